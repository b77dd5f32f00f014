"""serve.py and fcnroad/serving/service.py: a real server on localhost, answered as clients see it."""
import base64
import concurrent.futures
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import imageio.v2 as imageio
import numpy as np
import pytest

from fcnroad.serving import service
from fcnroad.serving.predictor import Predictor
from conftest import ROOT
from test_predict import street

pytest.importorskip('fastapi')
pytest.importorskip('uvicorn')


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def encoded(image, extension):
    out = io.BytesIO()
    imageio.imwrite(out, image, format=extension)
    return out.getvalue()


def request(url, data=None, method=None, timeout=60):
    """(status, content type, body) of one request; an HTTP error is an answer too."""
    req = urllib.request.Request(url, data=data, method=method)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.headers.get('content-type'), r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get('content-type'), e.read()


@pytest.fixture(scope='module')
def server(trained_run):
    model = os.path.join(trained_run[1], 'model')
    port = free_port()
    proc = subprocess.Popen([sys.executable, os.path.join(ROOT, 'serve.py'), '--model', model, '--port', str(port),
                             '--max-bytes', '200000'], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            cwd=ROOT)
    url = 'http://127.0.0.1:%d' % port
    try:
        for _ in range(240):
            if proc.poll() is not None:
                pytest.fail('serve.py stopped: %s' % proc.stdout.read()[-3000:])
            try:
                if request(url + '/health', timeout=2)[0] == 200:
                    break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail('serve.py did not answer /health in 120 s')
        yield url, model
    finally:
        proc.terminate()
        proc.wait(timeout=60)


@pytest.fixture(scope='module')
def expected(server):
    """The project's class map (predict.py's Predictor) of two test images."""
    images = {'png': street((61, 93), 1), 'jpeg': street((75, 121), 2)}
    predictor = Predictor(server[1])
    try:
        # predict.py paints what it decodes: the JPEG is compared on its decoded pixels
        decoded = {k: imageio.imread(io.BytesIO(encoded(v, k))) for k, v in images.items()}
        return {k: (encoded(images[k], k), predictor(im[None])[0][0], im) for k, im in decoded.items()}
    finally:
        predictor.close()


def test_png_and_jpeg_are_painted_at_their_own_size(server, expected):
    url, _ = server
    for kind, (data, classes, image) in expected.items():
        status, content_type, body = request(url + '/predict', data, 'POST')
        assert (status, content_type) == (200, 'image/png'), body[:300]
        painted = imageio.imread(io.BytesIO(body))
        assert painted.shape == image.shape, kind
        changed = np.any(painted != image, axis=-1)
        np.testing.assert_array_equal(changed, classes == 1)     # green exactly where the road is


def test_the_json_class_map_is_predicts(server, expected):
    url, _ = server
    data, classes, _ = expected['png']
    status, content_type, body = request(url + '/predict?format=json', data, 'POST')
    assert (status, content_type) == (200, 'application/json')
    answer = json.loads(body)
    received = imageio.imread(io.BytesIO(base64.b64decode(answer['classes_png_base64'])))
    np.testing.assert_array_equal(received, classes)
    assert (answer['width'], answer['height']) == (93, 61)
    assert answer['pixels'] == {'not road': int((classes == 0).sum()), 'road': int((classes == 1).sum())}


def test_bad_requests_get_their_status_and_a_one_line_json_error(server):
    url, _ = server
    cases = [
        (url + '/predict', b'plain text, not an image', 'POST', 400, 'not a PNG or JPEG image'),
        (url + '/predict', b'\x89PNG\r\n\x1a\n' + b'\0' * 100, 'POST', 400, 'cannot decode the image'),
        (url + '/predict', b'\xff\xd8\xff' + b'x' * 300000, 'POST', 413, 'this service takes at most 200000'),
        (url + '/predict?format=xml', encoded(street((20, 30), 0), 'png'), 'POST', 400, 'format=xml'),
        (url + '/predict', None, 'GET', 405, 'GET /predict: method not allowed'),
        (url + '/etc/passwd', None, 'GET', 404, '/etc/passwd: no such path'),
    ]
    for address, data, method, status, message in cases:
        got, content_type, body = request(address, data, method)
        assert (got, content_type) == (status, 'application/json'), (address, got, body[:200])
        error = json.loads(body)['error']
        assert message in error and '\n' not in error, error


def test_eight_clients_at_once_are_all_answered_right(server, expected):
    url, _ = server
    jobs = [kind for _ in range(8 * 25) for kind in ('png', 'jpeg')][:8 * 25]

    def client(kind):
        data, classes, _ = expected[kind]
        status, _, body = request(url + '/predict?format=json', data, 'POST', timeout=120)
        received = imageio.imread(io.BytesIO(base64.b64decode(json.loads(body)['classes_png_base64'])))
        return status == 200 and np.array_equal(received, classes)

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        assert all(pool.map(client, jobs, timeout=600))


def test_the_page_describes_the_model_and_needs_nothing_from_elsewhere(server):
    url, _ = server
    status, content_type, body = request(url + '/')
    page = body.decode()
    assert status == 200 and content_type.startswith('text/html')
    assert '"model": "fcn8s"' in page and '"training_size": [64, 96]' in page and 'road IoU' in page
    assert 'src="http' not in page and 'href="http' not in page


class SlowPredictor:
    palette = {1: (0, 255, 0)}

    def __init__(self):
        self.release = threading.Event()

    def __call__(self, images):
        self.release.wait(30)
        return np.zeros(images.shape[:3], np.uint8), None


def test_a_full_queue_is_busy_and_the_model_runs_one_request_at_a_time():
    predictor = SlowPredictor()
    dispatcher = service.Dispatcher(predictor, queue_size=2)
    try:
        first = dispatcher.submit(np.zeros((2, 2, 3), np.uint8))
        for _ in range(100):           # the worker has taken the first one: it waits on the model
            if dispatcher.waiting.qsize() == 0:
                break
            time.sleep(0.01)
        waiting = [dispatcher.submit(np.zeros((2, 2, 3), np.uint8)) for _ in range(2)]
        with pytest.raises(service.Busy, match='2 requests are waiting already'):
            dispatcher.submit(np.zeros((2, 2, 3), np.uint8))
        assert not first.done()
        predictor.release.set()
        assert all(f.result(timeout=30).shape == (2, 2) for f in [first] + waiting)
    finally:
        predictor.release.set()
        dispatcher.close()


def chromium_and_driver():
    browser = shutil.which('chromium') or shutil.which('chromium-browser') or shutil.which('google-chrome')
    driver = shutil.which('chromedriver')
    return browser, driver


def test_the_page_in_a_real_browser_paints_an_uploaded_image(server, expected, tmp_path):
    webdriver = pytest.importorskip('selenium.webdriver', reason='selenium is not installed')
    browser, driver = chromium_and_driver()
    if not browser or not driver:
        pytest.skip("Chromium and its driver are not installed (Debian: apt-get install chromium chromium-driver; "
                    ".ci/run does it where apt-get works)")
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
    url, _ = server
    data, classes, image = expected['png']
    upload = tmp_path / 'street.png'
    upload.write_bytes(data)
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in ('--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'):
        options.add_argument(flag)
    chrome = webdriver.Chrome(service=Service(driver), options=options)
    try:
        chrome.set_window_size(1400, 1000)
        chrome.get(url + '/')
        assert 'fcn8s' in chrome.find_element(By.ID, 'model').text
        chrome.find_element(By.ID, 'file').send_keys(str(upload))
        WebDriverWait(chrome, 60).until(
            lambda d: d.execute_script("return document.getElementById('painted').naturalWidth > 0 && "
                                       "document.getElementById('classmap').dataset.done === '1'"))
        assert 'done in' in chrome.find_element(By.ID, 'status').text
        width = chrome.execute_script("return document.getElementById('painted').naturalWidth")
        counts = chrome.find_element(By.ID, 'counts').text
        assert width == image.shape[1]
        assert 'road %d px' % int((classes == 1).sum()) in counts
        shot = imageio.imread(io.BytesIO(chrome.get_screenshot_as_png()))
        # The painted road is on screen: pixels far greener than the grey asphalt and blue sky.
        green = (shot[..., 1].astype(int) - shot[..., 0] > 60) & (shot[..., 1].astype(int) - shot[..., 2] > 60)
        assert green.sum() > 100
        imageio.imwrite(str(tmp_path / 'page.png'), shot)
    finally:
        chrome.quit()
