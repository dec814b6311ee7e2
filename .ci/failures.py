#!/usr/bin/env python3
"""Lists the failed tests of TRX files and the FAIL lines of the GPU check, with the message's first lines and the
random seed, so that CI's last lines (often all that is kept of a run) say what failed and how to replay it."""
import re
import sys
import xml.etree.ElementTree as ElementTree

NS = {"t": "http://microsoft.com/schemas/VisualStudio/TeamTest/2010"}
MAX_LISTED = 20

listed = 0
for path in sys.argv[1:]:
    if path.endswith(".txt"):
        with open(path, encoding="utf-8", errors="replace") as check:
            for line in check:
                if line.startswith("FAIL") and listed < MAX_LISTED:
                    print(f"FAILED {path}: {line.rstrip()[:400]}")
                    listed += 1
        continue
    root = ElementTree.parse(path).getroot()
    classes = {d.get("id"): d.find("t:TestMethod", NS).get("className", "")
               for d in root.iterfind(".//t:UnitTest", NS)}
    for result in root.iterfind(".//t:UnitTestResult", NS):
        if result.get("outcome") not in ("Failed", "Error", "Timeout", "Aborted"):
            continue
        listed += 1
        if listed > MAX_LISTED:
            continue
        name = f"{classes.get(result.get('testId'), '')}.{result.get('testName')}".lstrip(".")
        message = (result.findtext(".//t:ErrorInfo/t:Message", "", NS) or "").strip().splitlines()
        output = result.findtext(".//t:StdOut", "", NS) or ""
        seed = re.search(r"ASLCUDA_TEST_SEED=-?\d+", output)
        print(f"FAILED {name}" + (f" (replay with {seed.group(0)})" if seed else ""))
        for line in message[:6]:
            print(f"    {line.strip()[:300]}")
if listed > MAX_LISTED:
    print(f"... and {listed - MAX_LISTED} more failures")
