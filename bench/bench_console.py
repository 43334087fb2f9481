#!/usr/bin/env python3
"""bench_console: what the web console and /metrics cost the dispatcher.

  bench/bench_console.py [build_dir]      (default: build/)

Target (issue 14, "Speed"): dispatch within 5% with a browser polling the
console every second: median wall time with the browser / without <= 1.05.

One private ocxd (TCP on 127.0.0.1:0, --http-listen 127.0.0.1:0, its own
database and work root) runs the same evaluation several times: M models x
D datasets of no-op command tasks (ocx-test-task, which writes the task's
expected outputs and exits: /bin/true would leave them missing and fail
the task) through LocalRunner, max_num_workers = cores, both stages, so
2 x M x D tasks. Rounds alternate A, B, A, B, ... so the machine's noise
falls on both alike:

  A: nothing watches.
  B: headless Chromium has the evaluation's console page open and reloads
     it every second (each load fetches the evaluation and its task list
     anew, besides the page's own polling), and a second client scrapes
     /metrics every second.

The browser starts before the submission and is not timed. A round's wall
time is the evaluation's end_time - create_time, both stamped by ocxd, so
how often this script polls does not matter. Also printed: ocxd's own CPU
per task (utime + stime from /proc) in A and B, which shows the console's
cost inside the daemon apart from the CPU the browser takes from the
machine, and the /metrics render time.

Needs the binaries ocxd, ocxctl, ocx-shim and ocx-test-task in
<build_dir>/bin, Chromium, chromedriver and python3-selenium (Debian:
apt-get install chromium chromium-driver python3-selenium); run it with
the system python3 (/usr/bin/python3), which has selenium. Exits 77 with
the reason when one is missing.

Environment: OCX_BENCH_ROUNDS (3 per kind), OCX_BENCH_MODELS (20),
OCX_BENCH_DATASETS (20), OCX_BENCH_KEEP (set: keep the temporary
directory).

Prints per-round numbers, the medians, and a final
`RESULT console_dispatch_ratio=<median B / median A> ...` line.
"""
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from datetime import datetime

SKIP = 77
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
PROGRAMS = ("ocxd", "ocxctl", "ocx-shim", "ocx-test-task")


def env_int(name, default):
    value = int(os.environ.get(name, default))
    if value < 1:
        sys.exit("bench_console: %s must be at least 1" % name)
    return value


def skip_reason(bin_dir):
    for exe in PROGRAMS:
        if not os.access(os.path.join(bin_dir, exe), os.X_OK):
            return "%s/%s is missing; build target %s" % (bin_dir, exe, exe)
    for path in (CHROMIUM, CHROMEDRIVER):
        if not os.access(path, os.X_OK):
            return "%s is missing (Debian: apt-get install chromium " \
                   "chromium-driver)" % path
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "python3-selenium is missing for %s (Debian: apt-get " \
               "install python3-selenium; run with /usr/bin/python3)" % \
               sys.executable
    return None


def wait_for(what, predicate, timeout=60, interval=0.05):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    sys.exit("bench_console: timed out after %ds waiting for %s" %
             (timeout, what))


def timestamp(text):
    """Seconds since the epoch of a protobuf JSON timestamp."""
    base, _, frac = text.rstrip("Z").partition(".")
    seconds = datetime.strptime(base, "%Y-%m-%dT%H:%M:%S").timestamp()
    return seconds + (float("0." + frac) if frac else 0.0)


class Ocxd:
    """A private ocxd; ctl() runs ocxctl against it."""

    def __init__(self, bin_dir, tmp):
        self.bin_dir = bin_dir
        self.log_path = os.path.join(tmp, "ocxd.log")
        db = os.path.join(tmp, "ocx.db")
        self.proc = subprocess.Popen(
            [os.path.join(bin_dir, "ocxd"), "--listen", "127.0.0.1:0",
             "--http-listen", "127.0.0.1:0", "--database", db,
             "--work-root", os.path.join(tmp, "work")]
            + (["--allow-root-tasks"] if os.geteuid() == 0 else []),
            stdout=subprocess.DEVNULL, stderr=open(self.log_path, "w"))
        self.console = wait_for("ocxd's console address", self._console, 30)
        self.address = wait_for("ocxd's address", lambda: self._read(
            db + ".address").strip(), 30)

    def _read(self, path):
        if self.proc.poll() is not None:
            sys.exit("bench_console: ocxd exited: " +
                     open(self.log_path).read())
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
        out = subprocess.run(
            [os.path.join(self.bin_dir, "ocxctl"), "--server", self.address,
             "-o", "json"] + list(args), capture_output=True, text=True)
        if out.returncode != 0:
            sys.exit("bench_console: ocxctl %s: %s%s" %
                     (" ".join(args), out.stdout, out.stderr))
        return json.loads(out.stdout)

    def cpu_s(self):
        """ocxd's user + system CPU seconds so far."""
        with open("/proc/%d/stat" % self.proc.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=30)


def write_spec(path, bin_dir, source, models, datasets):
    stage = {"runner": {
        "type": "LocalRunner", "max_num_workers": os.cpu_count() or 1,
        "retry": 0, "task": {"type": "command", "argv": [
            os.path.join(bin_dir, "ocx-test-task"), "{task_json}"]}}}
    data = os.path.join(source, "tests/data/story_gen.jsonl")
    spec = {
        "models": [{"abbr": "m%d" % i, "type": "OpenAISDK", "path": "noop"}
                   for i in range(models)],
        "datasets": [{"abbr": "d%d" % i, "path": data}
                     for i in range(datasets)],
        "infer": stage, "eval": stage,
    }
    with open(path, "w") as f:
        json.dump(spec, f)


def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1400,1000"):
        options.add_argument(arg)
    if os.geteuid() == 0:
        options.add_argument("--no-sandbox")  # Chromium refuses root else
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


def every_second(stop, action):
    """Runs action() once a second until stop is set; returns the count."""
    count = [0]

    def loop():
        while not stop.is_set():
            t0 = time.monotonic()
            action()
            count[0] += 1
            stop.wait(max(0.0, 1.0 - (time.monotonic() - t0)))

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    return thread, count


class Watchers:
    """Round B's load: the page reloaded and /metrics scraped each second."""

    def __init__(self, ocxd):
        self.ocxd = ocxd
        self.driver = browser()
        # Loaded once before the clock starts: the first start of the page's
        # scripts is the browser's cost, not a poll's.
        self.driver.get(ocxd.console + "/#/")
        wait_for("the console's list page", lambda: self.driver.execute_script(
            "return document.readyState") == "complete", 30)
        self.metrics_ms = []

    def _scrape(self):
        t0 = time.monotonic()
        with urllib.request.urlopen(self.ocxd.console + "/metrics",
                                    timeout=10) as r:
            r.read()
        self.metrics_ms.append((time.monotonic() - t0) * 1e3)

    def start(self, eval_id):
        self.stop_event = threading.Event()
        self.driver.get("%s/#/e/%s" % (self.ocxd.console, eval_id))
        self.threads = [
            every_second(self.stop_event, self.driver.refresh),
            every_second(self.stop_event, self._scrape)]

    def stop(self):
        self.stop_event.set()
        for thread, _ in self.threads:
            thread.join(timeout=30)
        return self.threads[0][1][0], self.threads[1][1][0]

    def quit(self):
        self.driver.quit()


def run_round(ocxd, spec, watchers=None):
    """Submits spec, waits for its end; returns (wall_s, ocxd_cpu_s, tasks,
    reloads, scrapes)."""
    cpu0 = ocxd.cpu_s()
    created = ocxd.ctl("submit", spec)
    eval_id = created["id"]
    if watchers:
        watchers.start(eval_id)
    done = lambda: (lambda e: e if e.get("end_time") else None)(
        ocxd.ctl("status", eval_id))
    evaluation = wait_for("evaluation %s to end" % eval_id, done, 600, 0.25)
    cpu = ocxd.cpu_s() - cpu0
    reloads = scrapes = 0
    if watchers:
        reloads, scrapes = watchers.stop()
    if evaluation["state"] != "SUCCEEDED":
        sys.exit("bench_console: evaluation %s ended %s (see %s)" %
                 (eval_id, evaluation["state"], ocxd.log_path))
    wall = timestamp(evaluation["end_time"]) - \
        timestamp(evaluation["create_time"])
    return wall, cpu, evaluation["task_count"], reloads, scrapes


def fmt(value):
    return "%.4g" % value


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    source = os.path.dirname(here)
    build = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else
                            os.path.join(source, "build"))
    bin_dir = os.path.join(build, "bin")
    reason = skip_reason(bin_dir)
    if reason:
        print("bench_console: skipped: " + reason)
        return SKIP
    rounds = env_int("OCX_BENCH_ROUNDS", 3)
    models = env_int("OCX_BENCH_MODELS", 20)
    datasets = env_int("OCX_BENCH_DATASETS", 20)
    tmp = tempfile.mkdtemp(prefix="ocx-bench-console.")
    ocxd = None
    try:
        ocxd = Ocxd(bin_dir, tmp)
        spec = os.path.join(tmp, "spec.json")
        write_spec(spec, bin_dir, source, models, datasets)
        warm = os.path.join(tmp, "warm.json")
        write_spec(warm, bin_dir, source, 2, 5)
        print("ocxd pid %d, console %s; %d cores, load average %s" % (
            ocxd.proc.pid, ocxd.console, os.cpu_count(),
            " ".join(open("/proc/loadavg").read().split()[:3])))
        run_round(ocxd, warm)  # warms the caches and the dataset counts
        return measure(ocxd, spec, rounds)
    finally:
        if ocxd:
            ocxd.stop()
        if os.environ.get("OCX_BENCH_KEEP"):
            print("bench_console: kept " + tmp, file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def measure(ocxd, spec, rounds):
    walls = {"A": [], "B": []}
    cpus = {"A": [], "B": []}
    metrics_ms = []
    tasks = 0
    for i in range(2 * rounds):
        kind = "AB"[i % 2]
        watchers = Watchers(ocxd) if kind == "B" else None
        try:
            wall, cpu, tasks, reloads, scrapes = run_round(ocxd, spec,
                                                           watchers)
        finally:
            if watchers:
                watchers.quit()
        walls[kind].append(wall)
        cpus[kind].append(cpu * 1e3 / tasks)
        extra = ""
        if watchers:
            metrics_ms += watchers.metrics_ms
            extra = "; %d page reloads, %d /metrics scrapes" % (reloads,
                                                                scrapes)
        print("round %d %s: %d tasks in %.3f s, %.1f tasks/s, ocxd CPU "
              "%.3f ms/task%s (load average %s)" % (
                  i + 1, kind, tasks, wall, tasks / wall, cpu * 1e3 / tasks,
                  extra, open("/proc/loadavg").read().split()[0]),
              flush=True)
    med = {k: statistics.median(v) for k, v in walls.items()}
    cpu_med = {k: statistics.median(v) for k, v in cpus.items()}
    ratio = med["B"] / med["A"]
    pairs = [b / a for a, b in zip(walls["A"], walls["B"])]
    metrics_p50 = statistics.median(metrics_ms) if metrics_ms else 0.0
    print("median A (no browser): %.3f s, %.1f tasks/s; ocxd CPU %.3f "
          "ms/task" % (med["A"], tasks / med["A"], cpu_med["A"]))
    print("median B (console reloaded + /metrics scraped every second): "
          "%.3f s, %.1f tasks/s; ocxd CPU %.3f ms/task" % (
              med["B"], tasks / med["B"], cpu_med["B"]))
    print("wall ratio B/A %.3f (pairs: %s); ocxd CPU ratio B/A %.3f; "
          "/metrics p50 %.2f ms" % (
              ratio, " ".join("%.3f" % p for p in pairs),
              cpu_med["B"] / cpu_med["A"], metrics_p50))
    print("RESULT console_dispatch_ratio=%s a_wall_s=%s b_wall_s=%s "
          "a_tasks_per_s=%s b_tasks_per_s=%s ocxd_cpu_ratio=%s "
          "a_ocxd_cpu_ms_per_task=%s b_ocxd_cpu_ms_per_task=%s "
          "metrics_p50_ms=%s tasks=%d rounds=%d" % (
              fmt(ratio), fmt(med["A"]), fmt(med["B"]),
              fmt(tasks / med["A"]), fmt(tasks / med["B"]),
              fmt(cpu_med["B"] / cpu_med["A"]), fmt(cpu_med["A"]),
              fmt(cpu_med["B"]), fmt(metrics_p50), tasks, rounds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
