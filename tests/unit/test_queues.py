from zellify_tiktok.repositories.queues import MAX_BATCH_BYTES
from zellify_tiktok.repositories.queues import batches as _batches


def test_batches_respect_count_and_request_size():
    small = ["x" * 10] * 25
    assert [len(b) for b in _batches(small)] == [10, 10, 5]
    big = ["y" * (100 * 1024)] * 5
    batches = _batches(big)
    assert all(sum(len(m) for m in b) <= MAX_BATCH_BYTES for b in batches)
    assert sum(len(b) for b in batches) == 5
