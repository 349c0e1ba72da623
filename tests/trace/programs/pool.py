"""A thread pool that allocates: a multi-threaded program for the tracer."""

import hashlib
from concurrent.futures import ThreadPoolExecutor


def work(i: int) -> str:
    data = bytes(range(256)) * (4096 * (i % 7 + 1))
    blobs = [bytearray(200_000 + 1000 * i) for _ in range(3)]
    return hashlib.sha256(data + bytes(blobs[0][:10])).hexdigest()


with ThreadPoolExecutor(max_workers=4) as ex:
    print(len(list(ex.map(work, range(64)))))
