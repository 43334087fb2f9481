#!/usr/bin/env python3
"""A stand-in task for the demo: reads task.json (ocx's TaskParams) and writes
the outputs an OpenCompass infer or eval task would, after a short pause so
the progress view has something to show. ocx-task (issue 4) replaces it."""
import json
import os
import random
import sys
import time

params = json.load(open(sys.argv[1]))
stage = params.get("stage", "")
model = params["model"]["abbr"]
datasets = [d["config"]["abbr"] for d in params.get("datasets", [])]
print(f"{stage} {model}: {', '.join(datasets)}", flush=True)
time.sleep(random.uniform(0.5, 2.0))
for rel in params.get("expected_outputs", []):
    path = os.path.join(params["work_dir"], rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path + ".tmp", "w") as f:
        if stage == "STAGE_INFER":
            json.dump({"0": {"origin_prompt": "demo", "prediction": "demo"}}, f)
        else:
            json.dump({"accuracy": round(random.uniform(40, 90), 2)}, f)
    os.replace(path + ".tmp", path)
print("done", flush=True)
