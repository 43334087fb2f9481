#!/usr/bin/env python3
"""The web console in a real browser (docs/console.md): headless Chromium
driven by Debian's python3-selenium against a real ocxd, the real tiny-model
server and real tasks.

  console_browser_test.py OCXD OCXCTL LLM_SERVER_RUNNER OCX_TEST_TASK SOURCE

1. examples/tiny-model.yaml (one infer worker, so it takes a while) runs;
   the evaluation page, opened right after submitting, shows its progress
   bar move and, for the last infer task (selected before it started), a
   log tail that fills without a reload and ends equal to the log file.
   Once it ended the page stops polling; a stage's tasks can be shown by
   state; the JSON API pages the task list and answers 304 to a request
   with the ETag of an unchanged answer.
2. Once it succeeded, the results table shows the numbers of the summary
   file ocxd wrote (summary/summary.csv), and the leaderboard has its
   column.
3. A second evaluation (sleeping command tasks, named with HTML) shows its
   name as text, and the page's cancel button, after the confirmation,
   cancels it: ocxctl then reports CANCELLED.
4. Plain HTTP: a POST without the console's header and a foreign Host are
   refused.
5. As root: a request from another account's socket (setpriv) is that
   account's: it lists the evaluations but gets 403 for root's details and
   cancel.
Exits 77 (skipped) when chromium, chromedriver or selenium is missing.
"""
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

SKIP = 77
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
XSS_NAME = '<img src=x onerror="window.__xss=1">cancel me & <b>bold</b>'


def skip_reason():
    for path in (CHROMIUM, CHROMEDRIVER):
        if not os.access(path, os.X_OK):
            return "%s is missing (Debian: apt-get install chromium " \
                   "chromium-driver)" % path
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "python3-selenium is missing (Debian: apt-get install " \
               "python3-selenium)"
    return None


def wait_for(what, predicate, timeout=60, interval=0.1):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    sys.exit("timed out after %ds waiting for %s" % (timeout, what))


class Ocxd:
    def __init__(self, binary, ocxctl, tmp):
        self.ocxctl = ocxctl
        self.log_path = os.path.join(tmp, "ocxd.log")
        db = os.path.join(tmp, "ocx.db")
        self.proc = subprocess.Popen(
            [binary, "--listen", "127.0.0.1:0", "--http-listen",
             "127.0.0.1:0", "--database", db, "--work-root",
             os.path.join(tmp, "work")]
            # As root the evaluations are root's, whose tasks ocxd runs only
            # when told to.
            + (["--allow-root-tasks"] if os.geteuid() == 0 else []),
            stdout=subprocess.DEVNULL, stderr=open(self.log_path, "w"))
        self.console = wait_for("ocxd's console address", self._console, 30)
        self.address = wait_for("ocxd's address", lambda: self._read(
            db + ".address").strip(), 30)

    def _read(self, path):
        if self.proc.poll() is not None:
            sys.exit("ocxd exited: " + open(self.log_path).read())
        try:
            with open(path) as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def _console(self):
        for line in self._read(self.log_path).splitlines():
            if "web console at " in line:
                return line.split("web console at ")[1].split()[0].rstrip("/")
        return None

    def ctl(self, *args):
        out = subprocess.run([self.ocxctl, "--server", self.address] +
                             list(args), capture_output=True, text=True)
        if out.returncode != 0:
            sys.exit("ocxctl %s: %s%s" % (" ".join(args), out.stdout,
                                          out.stderr))
        return out.stdout

    def evaluation(self, eval_id):
        return json.loads(self.ctl("-o", "json", "status", eval_id))

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=30)


def start_model_server(runner):
    proc = subprocess.Popen([runner], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    url = proc.stdout.readline().strip()
    if not url.startswith("http://"):
        sys.exit("llm-server-runner did not start (see its stderr above)")
    return proc, url


def write_specs(tmp, source, url, test_task):
    with open(os.path.join(source, "examples/tiny-model.yaml")) as f:
        tiny = f.read()
    tiny = tiny.replace("http://127.0.0.1:18089/v1", url)
    tiny = tiny.replace("../tests/data", os.path.join(source, "tests/data"))
    # One infer task at a time: the run lasts long enough to watch.
    tiny = tiny.replace("max_num_workers: 2, retry: 2",
                        "max_num_workers: 1, retry: 2")
    tiny_path = os.path.join(tmp, "tiny.yaml")
    with open(tiny_path, "w") as f:
        f.write(tiny)
    slow = {
        "models": [{"abbr": "m", "type": "OpenAISDK", "path": "stories260K"}],
        "datasets": [{"abbr": "d", "path": os.path.join(
            source, "tests/data/story_gen.jsonl")}],
    }
    for stage in ("infer", "eval"):
        slow[stage] = {"runner": {"type": "LocalRunner", "task": {
            "type": "command", "argv": [test_task, "{task_json}", "--attempt",
                                        "{attempt}", "--sleep-ms", "120000"]}}}
    slow_path = os.path.join(tmp, "slow.json")
    with open(slow_path, "w") as f:
        json.dump(slow, f)
    return tiny_path, slow_path


def browser(extra_args=(), nice=0):
    """Headless Chromium under chromedriver, with extra_args added to its
    command line and, when nice is set, chromedriver and so Chromium at
    that CPU priority (bench/bench_console.py uses both)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1400,1000") + tuple(extra_args):
        options.add_argument(arg)
    if os.geteuid() == 0:
        options.add_argument("--no-sandbox")  # Chromium refuses root else
    popen = {"preexec_fn": lambda: os.nice(nice)} if nice else {}
    return webdriver.Chrome(service=Service(CHROMEDRIVER, popen_kw=popen),
                            options=options)


# The pages re-render every second: read through one script each, never
# through element handles that a refresh makes stale.
def text_of(driver, css):
    return driver.execute_script(
        "const e = document.querySelector(arguments[0]);"
        "return e ? e.textContent : null;", css)


def attr_of(driver, css, name):
    return driver.execute_script(
        "const e = document.querySelector(arguments[0]);"
        "return e ? e.getAttribute(arguments[1]) : null;", css, name)


def click(driver, css):
    # Clicked after the script returns: a click that opens a confirmation
    # would otherwise hold the script.
    return driver.execute_script(
        "const e = document.querySelector(arguments[0]);"
        "if (!e || e.disabled) return false;"
        "setTimeout(() => e.click(), 0); return true;", css)


def watch_run(driver, ocxd, eval_id):
    """Part 1: progress and the log tail while the evaluation runs."""
    driver.get("%s/#/e/%s" % (ocxd.console, eval_id))
    last_infer = "%s-infer-7" % eval_id
    row_css = 'tr[data-id="%s"]' % last_infer
    state = wait_for("the task table", lambda: text_of(
        driver, row_css + " .badge"), 30)
    assert state not in ("RUNNING", "SUCCEEDED"), \
        "the last infer task started before the page opened: " + state
    assert click(driver, row_css)
    driver.execute_script("window.__sameDocument = 42;")
    progress, log_lengths = [], []
    deadline = time.time() + 240
    while time.time() < deadline:
        value = attr_of(driver, ".meta .progress", "data-value")
        if value is not None and (not progress or progress[-1] != value):
            progress.append(value)
        log = text_of(driver, "#log")
        if not log_lengths or log_lengths[-1] != len(log):
            log_lengths.append(len(log))
        state = text_of(driver, "#eval-state")
        if state in ("SUCCEEDED", "FAILED", "CANCELLED"):
            # The page may have re-rendered between the two reads above:
            # the bar as it stands with the final state.
            value = attr_of(driver, ".meta .progress", "data-value")
            if value is not None and progress[-1:] != [value]:
                progress.append(value)
            break
        time.sleep(0.1)
    assert text_of(driver, "#eval-state") == "SUCCEEDED", "%s ended %s:\n%s" % (
        eval_id, text_of(driver, "#eval-state"),
        ocxd.ctl("-o", "wide", "tasks", eval_id))
    values = [float(v) for v in progress]
    print("progress bar values seen:", values)
    assert len(values) >= 4, "the progress bar hardly moved: %s" % values
    assert values == sorted(values), "progress went back: %s" % values
    assert values[-1] == 100.0, values
    assert log_lengths[0] == 0 and len(log_lengths) >= 2, log_lengths
    assert driver.execute_script("return window.__sameDocument") == 42, \
        "the page was reloaded"
    # The tail ends equal to the task's log file.
    task = json.loads(ocxd.ctl("-o", "json", "task", last_infer))
    with open(task["attempts"][-1]["log_path"], errors="replace") as f:
        expected = f.read()
    wait_for("the whole log in the page",
             lambda: text_of(driver, "#log") == expected, 15)
    print("log tail: %d bytes in %d updates" % (len(expected),
                                                 len(log_lengths) - 1))


def api_requests(driver):
    return driver.execute_script(
        "return performance.getEntriesByType('resource')"
        ".filter(e => e.name.includes('/api/evaluations/')).length;")


def get(console, path, headers=None):
    """(status, ETag, parsed body or None) of a GET."""
    req = urllib.request.Request(console + path, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.headers.get("ETag"), json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("ETag"), None


def check_quiet_and_paged(driver, ocxd, eval_id):
    """Part 1b: an ended evaluation's page stops asking; a stage's tasks
    by state; the task list in pages and 304 for an unchanged answer."""
    wait_for("the results", lambda: text_of(driver, "#results-table"), 20)
    time.sleep(1.5)  # the last refresh's requests end
    before = api_requests(driver)
    time.sleep(3)
    assert api_requests(driver) == before, \
        "the page of an ended evaluation still polls"
    infer = 'table[data-stage="infer"]'

    def pick(state):
        driver.execute_script(
            "const s = document.querySelector('select[data-stage=\"infer\"]');"
            "s.value = arguments[0]; s.dispatchEvent(new Event('change'));",
            state)
    pick("FAILED")
    wait_for("no failed infer task", lambda: text_of(
        driver, infer + " tbody") == "No tasks here.", 10)
    pick("SUCCEEDED")
    wait_for("the succeeded infer tasks", lambda: len(driver.execute_script(
        "return [...document.querySelectorAll(arguments[0])]"
        ".map(b => b.textContent).filter(s => s === 'SUCCEEDED');",
        infer + " tbody .badge")) == 8, 10)

    base = "/api/evaluations/%s" % eval_id
    ids, token, pages = [], "", 0
    while True:
        status, tag, body = get(ocxd.console, base + (
            "/tasks?stage=STAGE_INFER&page_size=3&page_token=" + token))
        assert status == 200 and tag, (status, tag)
        ids += [t["id"] for t in body["tasks"]]
        pages += 1
        token = body["next_page_token"]
        if not token:
            break
    assert ids == ["%s-infer-%d" % (eval_id, i) for i in range(8)], ids
    assert pages == 3, pages
    for path in (base + "?spec=0", base + "/tasks?stage=STAGE_EVAL",
                 base + "/results"):
        status, tag, _ = get(ocxd.console, path)
        assert status == 200 and tag, (path, status, tag)
        status, again, body = get(ocxd.console, path, {"If-None-Match": tag})
        assert (status, again, body) == (304, tag, None), (path, status)
    print("ended page quiet; tasks by state and in pages; 304 when unchanged")


def check_results(driver, ocxd, eval_id):
    """Part 2: the results table against the summary file."""
    from selenium.webdriver.common.by import By
    work_dir = ocxd.evaluation(eval_id)["work_dir"]
    with open(os.path.join(work_dir, "summary", "summary.csv")) as f:
        rows = list(csv.reader(f))
    header, body = rows[0], rows[1:]
    models = header[4:]
    assert body, "the summary file has no rows"
    wait_for("the results table",
             lambda: text_of(driver, "#results-table"), 20)
    checked = 0
    for row in body:
        for i, model in enumerate(models):
            css = ('#results-table tr[data-dataset="%s"][data-metric="%s"] '
                   'td[data-model="%s"]' % (row[0], row[2], model))
            shown = text_of(driver, css)
            want = row[4 + i]
            if want not in ("-", ""):
                want = "%.2f" % float(want)
            assert shown == want, "%s %s %s: page %r, summary %r" % (
                row[0], row[2], model, shown, want)
            checked += 1
    print("results table matches summary.csv in %d cells" % checked)
    driver.get("%s/#/leaderboard" % ocxd.console)
    table = wait_for("the leaderboard",
                     lambda: text_of(driver, "#leaderboard-table"), 20)
    assert "stories260K@" + eval_id in table, table
    charts = driver.find_elements(By.CSS_SELECTOR, "#leaderboard svg.chart")
    assert charts, "no bar charts on the leaderboard"


def cancel_from_page(driver, ocxd, eval_id):
    """Part 3: escaping and the cancel button."""
    driver.get("%s/#/e/%s" % (ocxd.console, eval_id))
    wait_for("the name", lambda: text_of(driver, "#eval-name") == XSS_NAME, 20)
    assert driver.execute_script("return window.__xss") is None, \
        "a name ran as HTML"
    wait_for("the cancel button", lambda: click(driver, "#cancel"), 20)
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait
    alert = WebDriverWait(driver, 10).until(expected_conditions.alert_is_present())
    assert eval_id in alert.text, alert.text
    alert.accept()
    wait_for("CANCELLED from ocxctl", lambda: ocxd.evaluation(eval_id).get(
        "state") == "CANCELLED", 60, 0.5)
    wait_for("CANCELLED on the page",
             lambda: text_of(driver, "#eval-state") == "CANCELLED", 20)
    events = ocxd.ctl("status", eval_id)
    print("cancelled from the page:", eval_id)
    return events


def check_cross_site(console, eval_id):
    """Part 4: what another site could send is refused."""
    def post(headers):
        req = urllib.request.Request(
            "%s/api/evaluations/%s/cancel" % (console, eval_id), data=b"",
            method="POST", headers=headers)
        try:
            return urllib.request.urlopen(req, timeout=10).status
        except urllib.error.HTTPError as e:
            return e.code
    assert post({}) == 403
    assert post({"X-Ocx-Console": "1", "Origin": "http://evil.example"}) == 403
    assert post({"X-Ocx-Console": "1", "Host": "evil.example"}) == 403

    def get(path, host):
        req = urllib.request.Request(console + path, headers={"Host": host})
        try:
            return urllib.request.urlopen(req, timeout=10).status
        except urllib.error.HTTPError as e:
            return e.code
    # A page of a site rebound to 127.0.0.1 reads nothing; a scraper behind
    # a proxy still gets the metrics.
    assert get("/api/evaluations", "evil.example:80") == 403
    assert get("/api/evaluations", "localhost") == 200
    assert get("/metrics", "metrics.example") == 200


OTHER_USER = "ocxown-a"  # the account tests/server/authorization tests use


def check_other_user(console, run_id, slow_id):
    """Part 5 (root only): a request from another account's socket is that
    account's, and it may see the list but not steer or read another's."""
    import pwd
    try:
        pwd.getpwnam(OTHER_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home",
                        OTHER_USER], check=True)
    script = r"""
import json, sys, urllib.request, urllib.error
def call(path, method="GET"):
    req = urllib.request.Request(sys.argv[1] + path, method=method,
        data=b"" if method == "POST" else None,
        headers={"X-Ocx-Console": "1"})
    try:
        r = urllib.request.urlopen(req, timeout=10)
        return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())
print(json.dumps([call("/api/evaluations"),
                  call("/api/evaluations/" + sys.argv[2]),
                  call("/api/evaluations/%s/cancel" % sys.argv[3], "POST")]))
"""
    out = subprocess.run(
        ["setpriv", "--reuid", OTHER_USER, "--regid", OTHER_USER,
         "--clear-groups", sys.executable, "-c", script, console, run_id,
         slow_id], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    (ls, listed), (gs, got), (cs, cancelled) = json.loads(out.stdout)
    assert ls == 200 and listed["caller"]["user"] == OTHER_USER, listed
    assert {e["id"] for e in listed["evaluations"]} >= {run_id, slow_id}
    assert gs == 403 and "belongs to root" in got["error"]["message"], got
    assert cs == 403 and "belongs to root" in cancelled["error"]["message"]
    print("another account (%s) sees the list, not the details or cancel"
          % OTHER_USER)


def main():
    reason = skip_reason()
    if reason:
        print("SKIP: " + reason)
        return SKIP
    ocxd_bin, ocxctl, runner, test_task, source = [
        os.path.abspath(a) for a in sys.argv[1:6]]
    tmp = tempfile.mkdtemp(prefix="ocx-console.")
    model, url = start_model_server(runner)
    ocxd = Ocxd(ocxd_bin, ocxctl, tmp)
    driver = None
    try:
        tiny, slow = write_specs(tmp, source, url, test_task)
        # The browser first: its start must not eat the run's early part.
        driver = browser()
        driver.get(ocxd.console + "/")
        run_id = ocxd.ctl("-o", "name", "submit", tiny, "--name",
                          "tiny model").strip()
        watch_run(driver, ocxd, run_id)
        check_quiet_and_paged(driver, ocxd, run_id)
        check_results(driver, ocxd, run_id)
        slow_id = ocxd.ctl("-o", "name", "submit", slow, "--name",
                           XSS_NAME).strip()
        check_cross_site(ocxd.console, slow_id)
        if os.geteuid() == 0:
            check_other_user(ocxd.console, run_id, slow_id)
        else:
            print("not root: the other-account check is skipped")
        cancel_from_page(driver, ocxd, slow_id)
    finally:
        if driver is not None:
            driver.quit()
        ocxd.stop()
        model.stdin.close()
        model.wait(timeout=30)
    shutil.rmtree(tmp, ignore_errors=True)
    print("PASS: the console in Chromium: progress, log tail, results, "
          "leaderboard, escaping and cancel")
    return 0


if __name__ == "__main__":
    sys.exit(main())
