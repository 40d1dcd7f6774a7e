"""Online paths (skipped unless --run-network): OSMnx download by place name."""

from __future__ import annotations

import pytest

from dgcoverage.network import network_from_place


@pytest.mark.network
def test_network_from_place_downloads_a_walk_network():
    net = network_from_place("莞城街道, 东莞市, 广东省, 中国", network_type="walk")
    assert net.n_nodes > 500 and net.n_edges > net.n_nodes
    assert 113.70 < float(net.lon.mean()) < 113.80 and 23.00 < float(net.lat.mean()) < 23.07
    assert net.meta["synthetic"] is False
