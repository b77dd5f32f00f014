import os

from fcnroad.training import run_folder


def test_runs_started_in_the_same_second_get_folders_of_their_own(tmp_path):
    import threading
    got, start = [], threading.Barrier(8)

    def start_run():
        start.wait()
        got.append(run_folder.new_run_folder(str(tmp_path), stamp='20261201-120000'))

    threads = [threading.Thread(target=start_run) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({final for _, final in got}) == 8 and all(os.path.isdir(staging) for staging, _ in got)
    os.rename(got[0][0], got[0][1])                    # a finished run keeps its name from later runs too
    assert run_folder.new_run_folder(str(tmp_path), stamp='20261201-120000')[1].endswith('-9')


def test_a_resumed_partial_run_keeps_its_folder_and_a_finished_one_is_partial_again(tmp_path):
    partial = tmp_path / '20261201-120000.partial'
    partial.mkdir()
    assert run_folder.open_run_folder(str(tmp_path), str(partial)) == (str(partial), str(tmp_path / '20261201-120000'))
    finished = tmp_path / '20261201-130000'
    finished.mkdir()
    (finished / run_folder.METRICS).write_text('{}')
    assert run_folder.is_finished(str(finished))
    staging, final = run_folder.open_run_folder(str(tmp_path), str(finished))
    assert staging == str(finished) + run_folder.PARTIAL and final == str(finished)
    assert os.path.isdir(staging) and not os.path.exists(final) and not run_folder.is_finished(staging)
