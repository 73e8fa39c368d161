"""The local stack: the real handlers behind an API Gateway imitation, AWS from moto, TikTok stand-ins.

Never deployed. `python -m local` (what `make dev` runs) serves it at http://127.0.0.1:3000;
tests start it in-process with `local.stack.LocalStack(port=0).start()` or as a subprocess.
"""
