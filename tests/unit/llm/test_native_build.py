"""The llama.cpp build is portable: no instruction beyond the x86-64 set we chose (AVX2, FMA, F16C,
BMI2) in any native library we compiled. It reads the machine code, so it fails on a CPU that
would run such a build fine — the defect cannot hide on a machine that happens to allow AMX.

A build for the host (`-march=native`) on a machine with AVX-512 or AMX shows `zmm` registers,
mask registers, tile instructions or EVEX-only mnemonics here.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import platform
import re
import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(
    platform.machine() not in ("x86_64", "AMD64"), reason="the instruction set checked is x86-64"
)

AMX = re.compile(
    r"\b(tilezero|tileloadd|tileloaddt1|tilestored|tilerelease|ldtilecfg|sttilecfg|tdpb[a-z0-9]*)\b"
)
AVX512_OPERANDS = re.compile(r"%zmm\d+|%[xy]mm(1[6-9]|2\d|3[01])\b|%k[0-7]\b|\{%k[0-7]\}")
# Mnemonics that exist only with AVX-512 (EVEX), AVX-VNNI or AVX512-BF16, on any register width.
BEYOND_AVX2 = re.compile(
    r"\b(vpternlog[dq]|vperm[it]2[a-z]+|vpcompress[a-z]+|vpexpand[a-z]+|vcompressp[sd]"
    r"|vexpandp[sd]|vpro[lr]v?[dq]|vplzcnt[dq]|vpconflict[dq]|vrndscale[a-z]+|vgetexp[a-z]+"
    r"|vgetmant[a-z]+|vscalef[a-z]+|vfixupimm[a-z]+|vrange[a-z]+|vreduce[a-z]+|vpmadd52[a-z]+"
    r"|vpopcnt[bwdq]|vpsh[lr]d[a-z]*|vpmov[a-z]*2m|vpmovm2[a-z]+|vpdpbusds?|vpdpwssds?"
    r"|vdpbf16ps|vcvtne2ps2bf16|vcvtneps2bf16|vpbroadcastm[a-z0-9]+|vcvt[a-z]*2u[a-z]+"
    r"|vcvtu[a-z]+|vpmovu?s[qdw][bwd]|vpmov[qdw][bwd]|vpabsq|vpmaxsq|vpminsq|vpmaxuq|vpminuq)\b"
)


def _native_libraries() -> list[Path]:
    spec = importlib.util.find_spec("llama_cpp")
    if spec is None or spec.origin is None:
        pytest.fail("llama_cpp is not installed: the embedded model is part of the default install")
    package = Path(spec.origin).parent
    # Wheels carry `libx.so`, `libx.so.0` and `libx.so.0.1.2` as copies: read each content once.
    by_content: dict[str, Path] = {}
    for path in sorted(package.rglob("*.so*"), key=lambda p: len(p.name), reverse=True):
        if path.is_file():
            by_content[hashlib.sha256(path.read_bytes()).hexdigest()] = path
    assert by_content, f"no native library found under {package}"
    return sorted(by_content.values())


def _objdump() -> str:
    found = shutil.which("objdump")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("objdump is missing (binutils): CI must check the native build")
        pytest.skip("objdump (binutils) is not installed")
    return found


def _findings(disassembly: str) -> dict[str, list[str]]:
    findings: dict[str, list[str]] = {"amx": [], "avx512": [], "beyond_avx2": []}
    for line in disassembly.splitlines():
        if "\t" not in line:
            continue
        instruction = line.rsplit("\t", 1)[-1]
        for name, pattern in (
            ("amx", AMX),
            ("avx512", AVX512_OPERANDS),
            ("beyond_avx2", BEYOND_AVX2),
        ):
            if pattern.search(instruction) and len(findings[name]) < 5:
                findings[name].append(instruction.strip())
    return findings


@pytest.mark.parametrize(
    "library",
    _native_libraries() if importlib.util.find_spec("llama_cpp") else [],
    ids=lambda p: p.name,
)
def test_the_native_library_has_no_instruction_beyond_the_portable_set(library: Path) -> None:
    disassembly = subprocess.run(
        [_objdump(), "-d", "--no-show-raw-insn", str(library)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert disassembly.count("\n") > 100, f"objdump printed no code for {library}"
    findings = _findings(disassembly)
    assert findings == {"amx": [], "avx512": [], "beyond_avx2": []}, (
        f"{library.name} was compiled for a specific CPU (see CMAKE_ARGS in pyproject.toml)"
    )


def test_the_checks_recognise_what_they_look_for() -> None:
    sample = "\n".join(
        f"  1000:\t{instruction}"
        for instruction in (
            "tilezero %tmm4",
            "vmovups (%rax),%zmm1",
            "vpternlogd $0x96,%ymm2,%ymm1,%ymm0",
            "vaddps %ymm1,%ymm2,%ymm3{%k1}",
            "{vex} vpdpbusd %ymm1,%ymm2,%ymm3",
            "vfmadd231ps %ymm1,%ymm2,%ymm3",  # FMA: allowed
            "vcvtph2ps %xmm1,%ymm0",  # F16C: allowed
        )
    )
    findings = _findings(sample)
    assert findings["amx"] == ["tilezero %tmm4"]
    assert len(findings["avx512"]) == 2
    assert findings["beyond_avx2"] == [
        "vpternlogd $0x96,%ymm2,%ymm1,%ymm0",
        "{vex} vpdpbusd %ymm1,%ymm2,%ymm3",
    ]
