"""multiprocessing with fork: child address spaces copied from the parent, helper threads,
POSIX semaphores in /dev/shm that are mapped and then unlinked."""

import multiprocessing as mp


def f(x: int) -> int:
    return sum(bytearray(100000 + x))


if __name__ == "__main__":
    ctx = mp.get_context("fork")
    with ctx.Pool(3) as p:
        print(sum(p.map(f, range(30))))
