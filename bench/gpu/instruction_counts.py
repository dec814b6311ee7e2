#!/usr/bin/env python3
"""Instructions per element of the paper-default kernels' main loops, in PTX and in SASS (kernels/README.md,
"Instruction budget"). PTX is counted as tests/AslCuda.Tests/Nvrtc/PtxInstructionBudgetTests counts it; SASS is
the machine code of NVRTC's sm_90 CUBIN, disassembled by nvdisasm. No GPU needed.

    python3 bench/gpu/instruction_counts.py

NVRTC: $ASLCUDA_NVRTC_PATH, else libnvrtc.so.11.2 (Debian's libnvrtc11.2) or libnvrtc.so. nvdisasm: $NVDISASM,
else build/cuda-tools/usr/bin/nvdisasm, which this script extracts from Debian's nvidia-cuda-toolkit package
(`apt-get download` and `dpkg -x`, nothing installed) when it is missing.
"""
import ctypes
import glob
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
KERNELS = os.path.join(ROOT, "kernels")

# The defines MultiLabelVariant.For and SingleLabelVariant.For give for the paper defaults (AslOptions(): gammas
# 1 and 4, clip 0.05, detached weight, sum; SingleLabelOptions(): gammas 0 and 4; [N x 1000], int64 targets).
MULTI = ["-DASL_GRADIENT=1", "-DASL_ELEMENT_LOSS=0", "-DASL_STATISTICS=0", "-DASL_SCALE_GRADIENT=0", "-DASL_CLIP=1",
         "-DASL_GAMMA_MODE=1", "-DASL_GAMMA_POS_INT=1", "-DASL_GAMMA_NEG_INT=4", "-DASL_BLOCK_SIZE=256"]
VARIANTS = [
    ("multi-label float32/float32", "asl_multilabel.cu", "asl_multilabel", 4, ["-DASL_LOGIT_DTYPE=0", "-DASL_TARGET_DTYPE=0"] + MULTI),
    ("multi-label float32/uint8", "asl_multilabel.cu", "asl_multilabel", 4, ["-DASL_LOGIT_DTYPE=0", "-DASL_TARGET_DTYPE=4"] + MULTI),
    ("multi-label bfloat16/uint8", "asl_multilabel.cu", "asl_multilabel", 8, ["-DASL_LOGIT_DTYPE=3", "-DASL_TARGET_DTYPE=4"] + MULTI),
    ("single-label float32 [N x 1000]", "asl_singlelabel.cu", "asl_singlelabel", 32,
     ["-DASL_LOGIT_DTYPE=0", "-DASL_TARGET_BITS=64", "-DASL_GRADIENT=1", "-DASL_ROW_LOSS=0", "-DASL_GAMMA_MODE=1",
      "-DASL_GAMMA_POS_INT=0", "-DASL_GAMMA_NEG_INT=4", "-DASL_BLOCK_SIZE=256", "-DASL_GROUP_SIZE=32",
      "-DASL_VALUES_PER_THREAD=32"]),
]


def nvrtc():
    for name in filter(None, [os.environ.get("ASLCUDA_NVRTC_PATH"), "libnvrtc.so.11.2", "libnvrtc.so"]):
        try:
            return ctypes.CDLL(name)
        except OSError:
            pass
    sys.exit("no NVRTC: install libnvrtc11.2 (Debian non-free) or set ASLCUDA_NVRTC_PATH")


def compile_kernel(lib, source_file, defines):
    source = open(os.path.join(KERNELS, source_file), "rb").read()
    header = open(os.path.join(KERNELS, "asl_common.cuh"), "rb").read()
    program = ctypes.c_void_p()
    check(lib.nvrtcCreateProgram(ctypes.byref(program), source, source_file.encode(), 1,
                                 (ctypes.c_char_p * 1)(header), (ctypes.c_char_p * 1)(b"asl_common.cuh")), "create")
    options = ["--gpu-architecture=sm_90", "--std=c++17"] + defines
    status = lib.nvrtcCompileProgram(program, len(options), (ctypes.c_char_p * len(options))(*[o.encode() for o in options]))
    size = ctypes.c_size_t()
    lib.nvrtcGetProgramLogSize(program, ctypes.byref(size))
    log = ctypes.create_string_buffer(size.value)
    lib.nvrtcGetProgramLog(program, log)
    check(status, "compile: " + log.value.decode())
    lib.nvrtcGetPTXSize(program, ctypes.byref(size))
    ptx = ctypes.create_string_buffer(size.value)
    lib.nvrtcGetPTX(program, ptx)
    lib.nvrtcGetCUBINSize(program, ctypes.byref(size))
    cubin = ctypes.create_string_buffer(size.value)
    lib.nvrtcGetCUBIN(program, cubin)
    return ptx.value.decode(), cubin.raw


def check(status, what):
    if status != 0:
        sys.exit(f"NVRTC {what} failed ({status})")


def nvdisasm():
    path = os.environ.get("NVDISASM") or os.path.join(ROOT, "build", "cuda-tools", "usr", "bin", "nvdisasm")
    if not os.path.exists(path):
        tools = os.path.join(ROOT, "build", "cuda-tools")
        os.makedirs(tools, exist_ok=True)
        subprocess.run(["apt-get", "download", "nvidia-cuda-toolkit"], cwd=tools, check=True)
        package = sorted(glob.glob(os.path.join(tools, "nvidia-cuda-toolkit_*.deb")))[-1]
        subprocess.run(["dpkg", "-x", package, tools], check=True)
    return path


class Loop:
    """The main loop (largest label-to-backward-branch region) cut into basic blocks, for PTX or SASS text."""

    def __init__(self, lines, label, branch, is_instruction, vote):
        self.is_instruction = is_instruction
        labels, best = {}, (0, None)
        for i, line in enumerate(lines):
            m = label.match(line)
            if m:
                labels[m.group(1)] = i
            b = branch.search(line)
            if b and b.group(1) in labels:
                n = sum(1 for x in lines[labels[b.group(1)]:i + 1] if is_instruction(x))
                if n > best[0]:
                    best = (n, (labels[b.group(1)], i))
        head, end = best[1]
        self.blocks, current = [], []
        for line in lines[head:end + 1]:
            if label.match(line) and any(is_instruction(x) for x in current):
                self.blocks.append(current)
                current = []
            current.append(line)
            if is_instruction(line) and branch.search(line):
                self.blocks.append(current)
                current = []
        if current:
            self.blocks.append(current)
        self.names = {}
        for b, block in enumerate(self.blocks):
            for line in block:
                if is_instruction(line):
                    break
                m = label.match(line)
                if m:
                    self.names[m.group(1)] = b
        self.branch = branch
        self.vote = next((m.group(1) for block in self.blocks for m in map(vote.search, block) if m), None)

    def count(self, vote_true=None, issuing=lambda line: True):
        """Instructions reachable from the loop head; with vote_true set, only one side of the vote's branch."""
        reached, pending = set(), [0]
        while pending:
            b = pending.pop()
            if b >= len(self.blocks) or b in reached:
                continue
            reached.add(b)
            instructions = [x for x in self.blocks[b] if self.is_instruction(x)]
            last = instructions[-1].strip() if instructions else ""
            m = self.branch.search(last)
            takes, falls = m is not None, True
            if m:
                guard = re.match(r"@(!?%?U?[pP]\d+)\s", last)
                conditional = guard or re.search(r"BRA\s+!?U?P\d+,", last)
                if not conditional:
                    falls = False
                elif guard and self.vote and vote_true is not None:
                    if guard.group(1) == self.vote:
                        takes, falls = vote_true, not vote_true
                    elif guard.group(1) == "!" + self.vote:
                        takes, falls = not vote_true, vote_true
            if takes and m.group(1) in self.names and self.names[m.group(1)] != 0:
                pending.append(self.names[m.group(1)])
            if falls:
                pending.append(b + 1)
        return sum(1 for b in reached for x in self.blocks[b] if self.is_instruction(x) and issuing(x))


def ptx_loop(ptx, entry):
    start = ptx.index(f".entry {entry}(")
    end = ptx.find("\n}\n", start)
    lines = [x.strip() for x in ptx[start:end].split("\n")]
    is_instruction = lambda x: bool(x) and not x.startswith(("$L__", "//", ".")) and x not in ("{", "}")
    return Loop(lines, re.compile(r"^(\$L__\w+):"), re.compile(r"\bbra(?:\.uni)?\s+(\$L__\w+);"), is_instruction,
                re.compile(r"\bvote\.sync\.any\.pred\s+(%p\d+),"))


def ptx_issues(line):
    text = line.split(None, 1)[1] if line.startswith("@") else line
    opcode = re.split(r"[ \t]", text)[0].rstrip(";")
    return not opcode.startswith("mov") and opcode not in ("neg.f32", "abs.f32")


def sass_loop(sass):
    lines = [re.sub(r"^/\*[0-9a-f]+\*/\s*", "", x.strip()) if re.search(r"/\*[0-9a-f]{4}\*/", x) else x.strip()
             for x in sass.split("\n")]
    marked = [("\t" + x) if not re.match(r"^(\.|//|$)", x) else x for x in lines]
    is_instruction = lambda x: x.startswith("\t") and not x.strip().startswith("NOP")
    return Loop(marked, re.compile(r"^(\.L_x_\d+):"), re.compile(r"\bBRA(?:\.\w+)*\s+(?:!?U?P\d+,\s*)?`\((\.L_x_\d+)\)"),
                is_instruction, re.compile(r"VOTE\.ANY\s+(P\d+),"))


def main():
    lib, disassembler = nvrtc(), nvdisasm()
    print("| variant | PTX, 0/1 targets | PTX, soft targets | SASS, 0/1 targets | SASS, soft targets |")
    print("|---|---|---|---|---|")
    for name, source, entry, width, defines in VARIANTS:
        ptx, cubin = compile_kernel(lib, source, defines)
        path = os.path.join(ROOT, "build", "cuda-tools", f"{entry}.cubin")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        open(path, "wb").write(cubin)
        sass = subprocess.run([disassembler, "-c", path], check=True, capture_output=True, text=True).stdout
        p, s = ptx_loop(ptx, entry), sass_loop(sass)
        cells = [p.count(False, ptx_issues) / width, p.count(True, ptx_issues) / width, s.count(False) / width, s.count(True) / width]
        print(f"| {name} | " + " | ".join(f"{c:.1f}" for c in cells) + " |")


if __name__ == "__main__":
    main()
