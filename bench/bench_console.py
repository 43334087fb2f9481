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
2 x M x D tasks. Rounds go A, B, Z, b, z, P, A, B, ... so the machine's
noise falls on all alike:

  A: nothing watches.
  B: headless Chromium has the evaluation's console page open (each
     second the page asks for the evaluation with its ETag, and then only
     what may have changed: a stage's page of 50 tasks when the stage's
     counts moved or the page shows READY or running tasks, the results
     when more eval tasks ended, at most every 5 s), and a second client
     scrapes /metrics every second. This is the issue's case.
  Z: as B, but the browser shows a blank page: what headless Chromium
     costs before the console asks anything, so B/Z is the console's own
     cost with the browser's CPU on the same cores.
  b, z: as B and Z with Chromium at nice 19 (NICE). An engineer's browser
     does not run on the daemon's cores; at nice 19 the browser still
     runs there, but only on CPU the dispatcher and its tasks leave, so b
     shows the console's cost to the dispatcher rather than the
     browser's. B and Z, unniced, are still measured and printed.
  P: no browser; this script makes the requests the open page makes, and
     scrapes /metrics every second. B - P is the browser's own CPU, taken
     from the same cores (a browser on another host, through an SSH
     tunnel, costs the ocxd host only P).
  C: (only when OCX_BENCH_KINDS names it) as B, but the page is reloaded
     every second, so each second fetches the evaluation with its spec, a
     page of tasks per stage and the results anew.

The browser starts before the submission and is not timed: it opens the
console's list (or the blank page), is left until its CPU settles (a
browser just started is still setting up; an engineer's has been open a
while), and at the submission the evaluation's page opens in the same
document, as a click on its link does. Chromium runs with LEAN_ARGS, which
turn off its background work (component updates, field trials, extensions,
crash reports; one renderer); OCX_BENCH_CHROMIUM_ARGS replaces them. A round's wall
time is the evaluation's end_time - create_time, both stamped by ocxd, so
how often this script polls does not matter. Also printed: ocxd's own CPU
per task (utime + stime from /proc) and the browser's CPU per round, which
split the console's cost inside the daemon from the CPU the browser takes
from the machine; the page's /api/ requests; the /metrics render time; and
at the end the time and size of each request a poll makes (and, for
comparison, of the whole task list, which the page no longer asks for).

Needs the binaries ocxd, ocxctl, ocx-shim and ocx-test-task in
<build_dir>/bin, Chromium, chromedriver and python3-selenium (Debian:
apt-get install chromium chromium-driver python3-selenium); run it with
the system python3 (/usr/bin/python3), which has selenium. Exits 77 with
the reason when one is missing.

Environment: OCX_BENCH_ROUNDS (3 per kind), OCX_BENCH_MODELS (20),
OCX_BENCH_DATASETS (20), OCX_BENCH_KINDS (ABZbzP: the kinds of rounds to
run, A and at least one other of B, Z, b, z, P, C), OCX_BENCH_CHROMIUM_ARGS,
OCX_BENCH_KEEP (set: keep the temporary directory).

Prints per-round numbers, the medians, the ratios to A and of B/Z and b/z,
and a final `RESULT console_dispatch_ratio=<median B / median A>
niced_console_dispatch_ratio=<median b / median A>
console_over_blank_ratio=<median B / median Z> ...` line.
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
import urllib.error
import urllib.request
from datetime import datetime

# The browser test's harness: its private ocxd, Chromium and waits.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "tests", "e2e"))
import console_browser_test as harness  # noqa: E402

SKIP = 77
PROGRAMS = ("ocxd", "ocxctl", "ocx-shim", "ocx-test-task")
browser = harness.browser
wait_for = harness.wait_for


def env_int(name, default):
    value = int(os.environ.get(name, default))
    if value < 1:
        sys.exit("bench_console: %s must be at least 1" % name)
    return value


def skip_reason(bin_dir):
    for exe in PROGRAMS:
        if not os.access(os.path.join(bin_dir, exe), os.X_OK):
            return "%s/%s is missing; build target %s" % (bin_dir, exe, exe)
    reason = harness.skip_reason()
    if reason and "selenium" in reason:
        reason += " for " + sys.executable
    return reason


def timestamp(text):
    """Seconds since the epoch of a protobuf JSON timestamp."""
    base, _, frac = text.rstrip("Z").partition(".")
    seconds = datetime.strptime(base, "%Y-%m-%dT%H:%M:%S").timestamp()
    return seconds + (float("0." + frac) if frac else 0.0)


class Ocxd(harness.Ocxd):
    """The browser test's private ocxd, with JSON answers and its CPU."""

    def __init__(self, bin_dir, tmp):
        super().__init__(os.path.join(bin_dir, "ocxd"),
                         os.path.join(bin_dir, "ocxctl"), tmp)

    def json(self, *args):
        return json.loads(self.ctl("-o", "json", *args))

    def cpu_s(self):
        """ocxd's user + system CPU seconds so far."""
        with open("/proc/%d/stat" % self.proc.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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


def tree_cpu_s(root_pid):
    """User + system CPU seconds of root_pid and its live descendants."""
    children, cpu = {}, {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(name))
        cpu[int(name)] = int(fields[11]) + int(fields[12])
    total, todo = 0, [root_pid]
    while todo:
        pid = todo.pop()
        total += cpu.get(pid, 0)
        todo += children.get(pid, [])
    return total / os.sysconf("SC_CLK_TCK")


# Headless Chromium's own background work that an engineer's browser does
# not do on the daemon's host: fetching components, field trials, safe
# browsing lists and crash reports, extensions, and a renderer per page.
# OCX_BENCH_CHROMIUM_ARGS (space-separated) replaces them, e.g. with "" to
# measure Chromium as the browser test starts it.
LEAN_ARGS = ("--disable-background-networking", "--disable-component-update",
             "--disable-extensions", "--disable-default-apps",
             "--disable-sync", "--no-first-run", "--disable-breakpad",
             "--metrics-recording-only", "--renderer-process-limit=1")


def chromium_args():
    value = os.environ.get("OCX_BENCH_CHROMIUM_ARGS")
    return LEAN_ARGS if value is None else tuple(value.split())


def settle(pid, quiet_s=0.05, limit_s=20.0):
    """Waits until the process tree of pid used less than quiet_s of CPU in
    a second (at most limit_s): a browser that was just started is still
    setting up, which an engineer's browser, open for a while, is not."""
    deadline = time.monotonic() + limit_s
    before = tree_cpu_s(pid)
    while time.monotonic() < deadline:
        time.sleep(1.0)
        now = tree_cpu_s(pid)
        if now - before < quiet_s:
            return
        before = now


class Watchers:
    """A browser round's load: the evaluation's page open (mode "open": it
    polls on its own, every second), reloaded every second (mode "reload")
    or a blank page instead (mode "blank"), and /metrics scraped every
    second. With nice, Chromium runs at that CPU priority."""

    def __init__(self, ocxd, mode, nice=0):
        self.ocxd = ocxd
        self.mode = mode
        self.driver = browser(chromium_args(), nice)
        # Loaded, and left to settle, before the clock starts: the browser's
        # start is not a poll's cost. The console's list first, from which
        # start() opens the evaluation as a click on its link would.
        if mode == "blank":
            self.driver.get("about:blank")
        else:
            self.driver.get(ocxd.console + "/#/")
        wait_for("the first page", lambda: self.driver.execute_script(
            "return document.readyState") == "complete", 30)
        settle(self.driver.service.process.pid)
        self.metrics_ms = []
        self.api_requests = 0

    def _scrape(self):
        t0 = time.monotonic()
        with urllib.request.urlopen(self.ocxd.console + "/metrics",
                                    timeout=10) as r:
            r.read()
        self.metrics_ms.append((time.monotonic() - t0) * 1e3)

    def _api_requests(self):
        """The page's /api/ requests since it was loaded."""
        return self.driver.execute_script(
            "return performance.getEntriesByType('resource')"
            ".filter(e => e.name.includes('/api/')).length;")

    def _reload(self):
        self.api_requests += self._api_requests()
        self.driver.refresh()
        self._grow_buffer()

    def _grow_buffer(self):
        self.driver.execute_script(
            "performance.setResourceTimingBufferSize(100000);")

    def start(self, eval_id):
        self.stop_event = threading.Event()
        self.browser_cpu0 = tree_cpu_s(self.driver.service.process.pid)
        # The evaluation's page in the same document, as a click on its link
        # in the list opens it: no new renderer, no scripts loaded again.
        self._grow_buffer()
        if self.mode != "blank":
            self.driver.execute_script(
                "performance.clearResourceTimings();"
                "location.hash = arguments[0];", "#/e/" + eval_id)
        self.threads = [every_second(self.stop_event, self._scrape)]
        if self.mode == "reload":
            self.threads.append(every_second(self.stop_event, self._reload))

    def stop(self):
        """Returns (page loads, /api/ requests, browser CPU seconds)."""
        self.stop_event.set()
        for thread, _ in self.threads:
            thread.join(timeout=30)
        self.api_requests += self._api_requests()
        loads = 1 + (self.threads[1][1][0] if self.mode == "reload" else 0)
        cpu = tree_cpu_s(self.driver.service.process.pid) - self.browser_cpu0
        return loads, self.api_requests, cpu

    def quit(self):
        self.driver.quit()


class ScriptPoller:
    """Round P's load, without a browser: the requests the open page makes
    (server/http/console/evaluation.js), and /metrics every second, from this
    script. Each second: the evaluation without its spec, conditional on
    its ETag; each stage's first page of tasks when the stage's counts
    moved or the page shows READY or running tasks, unless all its tasks
    ended; the results when more eval tasks ended, at most every 5 s."""

    LIVE = ("READY", "LAUNCHING", "RUNNING")
    FINAL = ("SUCCEEDED", "FAILED", "CANCELLED")

    def __init__(self, ocxd):
        self.ocxd = ocxd
        self.metrics_ms = []
        self.api_requests = 0

    def _get(self, path):
        """The body of a GET (conditional on the ETag kept for path), or
        the kept one when the answer is 304."""
        headers = {}
        kept = self.tags.get(path)
        if kept:
            headers["If-None-Match"] = kept[0]
        req = urllib.request.Request(self.ocxd.console + path,
                                     headers=headers)
        self.api_requests += 1
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                body = json.loads(r.read())
                if r.headers.get("ETag"):
                    self.tags[path] = (r.headers["ETag"], body)
                return body
        except urllib.error.HTTPError as e:
            if e.code != 304:
                raise
            return kept[1]

    def _poll(self):
        base = "/api/evaluations/" + self.eval_id
        e = self._get(base + "?spec=0")
        now = time.monotonic()
        for counts in e.get("stage_counts", []):
            stage = counts["stage"]
            key = json.dumps(counts, sort_keys=True) + e["state"]
            if (self.stage_keys.get(stage) != key and
                    not self.ended.get(stage)) or self.live.get(stage):
                page = self._get(base + "/tasks?stage=%s&page_size=50" %
                                 stage)
                self.stage_keys[stage] = key
                self.live[stage] = any(t["state"] in self.LIVE
                                       for t in page["tasks"])
                self.ended[stage] = page["tasks"] and all(
                    t["state"] in self.FINAL for t in page["tasks"])
        ended = "%s%s" % ([(c["succeeded"], c["failed"])
                           for c in e.get("stage_counts", [])
                           if c["stage"] == "STAGE_EVAL"], e["state"])
        if ended != self.results_key and now >= self.results_next:
            t0 = time.monotonic()
            self._get(base + "/results")
            self.results_key = ended
            self.results_next = t0 + max(5.0, 20 * (time.monotonic() - t0))

    def _scrape(self):
        t0 = time.monotonic()
        with urllib.request.urlopen(self.ocxd.console + "/metrics",
                                    timeout=10) as r:
            r.read()
        self.metrics_ms.append((time.monotonic() - t0) * 1e3)

    def start(self, eval_id):
        self.eval_id = eval_id
        self.tags, self.stage_keys, self.live, self.ended = {}, {}, {}, {}
        self.results_key, self.results_next = None, 0.0
        self.stop_event = threading.Event()
        self.threads = [every_second(self.stop_event, self._scrape),
                        every_second(self.stop_event, self._poll)]

    def stop(self):
        self.stop_event.set()
        for thread, _ in self.threads:
            thread.join(timeout=30)
        return 0, self.api_requests, 0.0

    def quit(self):
        pass


def run_round(ocxd, spec, watchers=None):
    """Submits spec and waits for its end; returns the round's numbers."""
    cpu0 = ocxd.cpu_s()
    eval_id = ocxd.json("submit", spec)["id"]
    if watchers:
        watchers.start(eval_id)
    done = lambda: (lambda e: e if e.get("end_time") else None)(
        ocxd.json("status", eval_id))
    evaluation = wait_for("evaluation %s to end" % eval_id, done, 600, 0.25)
    r = {"id": eval_id, "tasks": evaluation["task_count"],
         "ocxd_cpu": ocxd.cpu_s() - cpu0}
    if watchers:
        r["loads"], r["api"], r["browser_cpu"] = watchers.stop()
    if evaluation["state"] != "SUCCEEDED":
        sys.exit("bench_console: evaluation %s ended %s (see %s)" %
                 (eval_id, evaluation["state"], ocxd.log_path))
    r["wall"] = timestamp(evaluation["end_time"]) - \
        timestamp(evaluation["create_time"])
    r["work_dir"] = evaluation["work_dir"]
    return r


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
        print("Chromium args: %s; rounds b and z run it at nice %d" % (
            " ".join(chromium_args()) or "(none added)", NICE))
        run_round(ocxd, warm)  # warms the caches and the dataset counts
        return measure(ocxd, spec, rounds)
    finally:
        if ocxd:
            ocxd.stop()
        if os.environ.get("OCX_BENCH_KEEP"):
            print("bench_console: kept " + tmp, file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


# Rounds in this order, repeated (those OCX_BENCH_KINDS names): none, the
# page open, a blank page, both with the browser niced, the open page's
# requests made by this script, the page reloaded. A lowercase kind is its
# uppercase one with Chromium at nice NICE: the CPU a browser on another
# host would not take from the daemon's cores goes to the dispatcher first.
NICE = 19
KINDS = (("A", None, "nothing watches"),
         ("B", "open", "the page open (it polls every second) + /metrics "
                       "every second"),
         ("Z", "blank", "the browser on a blank page + /metrics every "
                        "second"),
         ("b", "open", "as B, the browser at nice %d" % NICE),
         ("z", "blank", "as Z, the browser at nice %d" % NICE),
         ("P", "script", "the open page's requests from a script, no "
                         "browser + /metrics every second"),
         ("C", "reload", "the page reloaded every second + /metrics every "
                         "second"))


def kinds():
    wanted = os.environ.get("OCX_BENCH_KINDS", "ABZbzP")
    chosen = tuple(k for k in KINDS if k[0] in wanted)
    if not chosen or chosen[0][0] != "A" or len(chosen) < 2:
        sys.exit("bench_console: OCX_BENCH_KINDS must hold A and another of "
                 "B, Z, b, z, P, C")
    return chosen


def watchers_for(ocxd, kind, mode):
    if mode == "script":
        return ScriptPoller(ocxd)
    nice = NICE if kind.islower() else 0
    return Watchers(ocxd, mode, nice) if mode else None


def measure(ocxd, spec, rounds):
    runs = {kind: [] for kind, _, _ in kinds()}
    metrics_ms = []
    for i in range(len(kinds()) * rounds):
        kind, mode, _ = kinds()[i % len(kinds())]
        watchers = watchers_for(ocxd, kind, mode)
        try:
            r = run_round(ocxd, spec, watchers)
        finally:
            if watchers:
                watchers.quit()
        runs[kind].append(r)
        if i + 1 < len(kinds()) * rounds:
            # Thousands of attempt dirs: removed between rounds, not all at
            # the end; the last round's stays for profile().
            subprocess.run(["rm", "-rf", r["work_dir"]], check=True)
        extra = ""
        if watchers:
            metrics_ms += watchers.metrics_ms
            extra = "; %d page loads, %d /api/ requests, %d /metrics " \
                    "scrapes; browser CPU %.2f s" % (
                        r["loads"], r["api"], len(watchers.metrics_ms),
                        r["browser_cpu"])
        print("round %d %s: %d tasks in %.3f s, %.1f tasks/s, ocxd CPU "
              "%.3f ms/task%s (load average %s)" % (
                  i + 1, kind, r["tasks"], r["wall"], r["tasks"] / r["wall"],
                  r["ocxd_cpu"] * 1e3 / r["tasks"], extra,
                  open("/proc/loadavg").read().split()[0]), flush=True)
    return report(runs, metrics_ms, profile(ocxd, r["id"]))


def profile(ocxd, eval_id, repeat=40):
    """Per request a page poll makes, on a finished evaluation: the median
    milliseconds, ocxd's CPU milliseconds (its CPU over `repeat` requests,
    which the machine's load hardly changes, unlike wall times) and the
    bytes; plain, and with the ETag of the answer (304) where it has one."""
    out = []
    for path in ("/api/evaluations/%s?spec=0" % eval_id,
                 "/api/evaluations/%s/tasks?stage=STAGE_INFER&page_size=50"
                 % eval_id,
                 "/api/evaluations/%s/results" % eval_id,
                 "/api/evaluations/%s/tasks" % eval_id, "/metrics"):
        tag = None
        for conditional in (False, True):
            if conditional and not tag:
                break
            times = []
            cpu0 = ocxd.cpu_s()
            for _ in range(repeat):
                req = urllib.request.Request(
                    ocxd.console + path,
                    headers={"If-None-Match": tag} if conditional else {})
                t0 = time.monotonic()
                try:
                    with urllib.request.urlopen(req, timeout=10) as r:
                        size = len(r.read())
                        tag = r.headers.get("ETag")
                except urllib.error.HTTPError as e:
                    if e.code != 304:
                        raise
                    size = 0
                times.append((time.monotonic() - t0) * 1e3)
            cpu_ms = (ocxd.cpu_s() - cpu0) * 1e3 / repeat
            name = path.replace(eval_id, "ID")
            out.append((name + (" (304)" if conditional else ""),
                        statistics.median(times), cpu_ms, size))
    return out


def socket_table_ms():
    """Milliseconds to read /proc/net/tcp and tcp6 in 64 KiB reads, as ocxd
    does to find which account owns a console connection (median of 5)."""
    times = []
    for _ in range(5):
        t0 = time.monotonic()
        for path in ("/proc/net/tcp", "/proc/net/tcp6"):
            with open(path, "rb", buffering=0) as f:
                while f.read(65536):
                    pass
        times.append((time.monotonic() - t0) * 1e3)
    return statistics.median(times)


# The RESULT line's names of each kind's wall and ocxd CPU ratios to A,
# and of the ratios of the page's kinds to the blank page's.
RESULT_NAMES = {"B": ("console_dispatch_ratio", "ocxd_cpu_ratio"),
                "Z": ("blank_dispatch_ratio", "blank_ocxd_cpu_ratio"),
                "b": ("niced_console_dispatch_ratio", "niced_ocxd_cpu_ratio"),
                "z": ("niced_blank_dispatch_ratio",
                      "niced_blank_ocxd_cpu_ratio"),
                "P": ("script_dispatch_ratio", "script_ocxd_cpu_ratio"),
                "C": ("reload_dispatch_ratio", "reload_ocxd_cpu_ratio")}
OVER_BLANK = (("B", "Z", "console_over_blank_ratio"),
              ("b", "z", "niced_console_over_blank_ratio"))


def prefix(kind):
    """The RESULT line's prefix of a kind: "b" for B, "nb" for niced b."""
    return "n" + kind if kind.islower() else kind.lower()


def result_fields(runs, wall, cpu):
    fields = []
    for kind, _, _ in kinds()[1:]:
        fields += [(RESULT_NAMES[kind][0], fmt(wall[kind] / wall["A"])),
                   (RESULT_NAMES[kind][1], fmt(cpu[kind] / cpu["A"]))]
    fields += [(name, fmt(wall[page] / wall[blank]))
               for page, blank, name in OVER_BLANK
               if page in wall and blank in wall]
    tasks = runs["A"][0]["tasks"]
    for kind in runs:
        fields += [("%s_wall_s" % prefix(kind), fmt(wall[kind])),
                   ("%s_tasks_per_s" % prefix(kind), fmt(tasks / wall[kind])),
                   ("%s_ocxd_cpu_ms_per_task" % prefix(kind), fmt(cpu[kind]))]
        if "browser_cpu" in runs[kind][0] and kind != "P":
            fields.append(("%s_browser_cpu_s" % prefix(kind), fmt(
                statistics.median(r["browser_cpu"] for r in runs[kind]))))
    return fields


def print_ratios(runs, wall, cpu):
    """Each kind's median wall and ocxd CPU against A's, and the page's
    against the blank browser's under the same priority."""
    pairs = [(kind, "A") for kind, _, _ in kinds()[1:]]
    pairs += [(page, blank) for page, blank, _ in OVER_BLANK
              if page in wall and blank in wall]
    for kind, base in pairs:
        per_round = [b["wall"] / a["wall"]
                     for a, b in zip(runs[base], runs[kind])]
        print("wall ratio %s/%s %.3f (per round: %s); ocxd CPU ratio %s/%s "
              "%.3f" % (kind, base, wall[kind] / wall[base],
                        " ".join("%.3f" % p for p in per_round), kind, base,
                        cpu[kind] / cpu[base]))


def report(runs, metrics_ms, requests):
    tasks = runs["A"][0]["tasks"]
    wall = {k: statistics.median(r["wall"] for r in v)
            for k, v in runs.items()}
    cpu = {k: statistics.median(r["ocxd_cpu"] * 1e3 / r["tasks"] for r in v)
           for k, v in runs.items()}
    for kind, mode, what in kinds():
        browser = ""
        if mode in ("open", "reload", "blank"):
            browser = "; browser CPU %.2f s" % statistics.median(
                r["browser_cpu"] for r in runs[kind])
        print("median %s (%s): %.3f s, %.1f tasks/s; ocxd CPU %.3f "
              "ms/task%s" % (kind, what, wall[kind], tasks / wall[kind],
                             cpu[kind], browser))
    print_ratios(runs, wall, cpu)
    metrics_p50 = statistics.median(metrics_ms) if metrics_ms else 0.0
    print("/metrics while running: p50 %.2f ms" % metrics_p50)
    for path, ms, cpu_ms, size in requests:
        print("GET %s (finished evaluation): %.2f ms, ocxd CPU %.2f ms, "
              "%d bytes" % (path, ms, cpu_ms, size))
    table_ms = socket_table_ms()
    print("reading /proc/net/tcp and tcp6 (each /api/ request's caller "
          "lookup): %.2f ms" % table_ms)
    print("RESULT " + " ".join(
        "%s=%s" % kv for kv in result_fields(runs, wall, cpu)) +
        " metrics_p50_ms=%s socket_table_ms=%s tasks=%d rounds=%d" % (
            fmt(metrics_p50), fmt(table_ms), tasks, len(runs["A"])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
