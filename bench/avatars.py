"""The avatar pipeline's worst case, measured: CPU seconds and peak memory above an idle
process for every image of the hostile corpus, each in a fresh process (`make bench-avatars`).

Budget (issue: hardening, second round): at most 1.0 s of CPU and 150 MB above the idle worker.
"""

import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CPU_BUDGET_S, MEMORY_BUDGET_MB = 1.0, 150

# Peak memory is the kernel's high-water mark of this process (VmHWM): ru_maxrss would carry
# over the parent's peak across fork and exec.
CHILD = """
import resource, sys, django
django.setup()
def peak_kb():
    return next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
from django.core.files.uploadedfile import SimpleUploadedFile
from common.images import process_avatar
from common.exceptions import DomainError
data = open(sys.argv[1], "rb").read()
upload = SimpleUploadedFile("avatar", data)
before, idle = resource.getrusage(resource.RUSAGE_SELF), peak_kb()
try:
    process_avatar(upload)
    outcome = "accepted"
except DomainError as exc:
    outcome = f"refused {exc.status_code}"
after = resource.getrusage(resource.RUSAGE_SELF)
cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
print(outcome, "|", f"{cpu:.3f}", "|", (peak_kb() - idle) // 1024)
"""


def main() -> int:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.tests.settings")
    from testkit.hostile_images import CORPUS

    env = {**os.environ, "SECRET_KEY": os.environ.get("SECRET_KEY", "bench-avatars-secret-key-0123456789abcdef")}
    rows, failed = [], False
    with tempfile.TemporaryDirectory() as folder:
        for name, (make, _) in CORPUS.items():
            path = Path(folder) / "image"
            data = make()
            path.write_bytes(data)
            result = subprocess.run(
                [sys.executable, "-c", CHILD, str(path)], cwd=ROOT, env=env, capture_output=True, text=True, check=True
            )
            outcome, cpu, memory = (part.strip() for part in result.stdout.strip().split("|"))
            ok = float(cpu) <= CPU_BUDGET_S and int(memory) <= MEMORY_BUDGET_MB
            failed |= not ok
            result_word = "PASS" if ok else "FAIL"
            rows.append(f"| {name} | {len(data):,} | {outcome} | {float(cpu):.2f} | {memory} | {result_word} |")
    budget = f"≤ {CPU_BUDGET_S} s CPU, ≤ {MEMORY_BUDGET_MB} MB above idle"
    print(f"Avatar pipeline, each in a fresh process (budget: {budget})\n")
    print("| image | bytes | outcome | CPU s | peak MB above idle | result |")
    print("|---|---:|---|---:|---:|---|")
    print("\n".join(rows))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
