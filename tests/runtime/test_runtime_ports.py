"""Pod ports come from below the ephemeral range and are never handed out twice."""

from __future__ import annotations

import socket

from reconciler.runtime.ports import PortAllocator, ephemeral_range, pod_port_range


def free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def test_pod_ports_are_outside_the_ephemeral_range() -> None:
    """Outgoing connections take local ports from the ephemeral range; pods never get one."""
    ephemeral = ephemeral_range()
    assert ephemeral is not None
    allocator = PortAllocator()
    ports = [allocator.allocate() for _ in range(50)]
    assert len(set(ports)) == 50
    assert all(port < ephemeral[0] for port in ports)


def test_a_port_taken_by_another_program_is_skipped() -> None:
    """A candidate someone else listens on is passed over."""
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        taken = other.getsockname()[1]
        other.listen()
        allocator = PortAllocator(ports=range(taken, taken + 1))
        assert allocator.allocate() != taken  # falls back to the kernel's choice


def test_released_ports_come_back_last() -> None:
    """Round-robin: a port released a moment ago is not the next one handed out."""
    span = pod_port_range(ephemeral_range())
    assert span is not None
    # three ports nobody holds now (pods of daemons running meanwhile hold some of the range)
    start = next(
        p for p in range(span.stop - 3, span.start, -1) if all(free(p + i) for i in (0, 1, 2))
    )
    allocator = PortAllocator(ports=range(start, start + 3))
    first = allocator.allocate()
    allocator.release([first])
    assert allocator.allocate() != first


def test_daemons_started_together_start_at_different_ports() -> None:
    """Each allocator begins its round at a random place: two daemons do not race for one port."""
    firsts = {PortAllocator().allocate() for _ in range(5)}
    assert len(firsts) > 1


def test_reserved_ports_of_adopted_pods_are_never_handed_out() -> None:
    """Ports an adopted pod holds are skipped, even while its container is down (not bound)."""
    free = PortAllocator().allocate()  # a port of the pod range nobody is bound to right now
    assert PortAllocator(ports=range(free, free + 1)).allocate() == free
    allocator = PortAllocator(ports=range(free, free + 1))
    allocator.reserve([free])
    assert allocator.allocate() != free  # falls back to the kernel's choice
    allocator.release([free])
    assert allocator.allocate() == free
