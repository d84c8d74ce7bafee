"""Against a real flash controller: runs only with BOOTH_FLASH_PORT set (e.g. /dev/ttyACM0)."""

import os

import pytest

from booth.hardware.flashlink import FlashController, FlashError
from firmware_protocol import messages as m

PORT = os.environ.get("BOOTH_FLASH_PORT")
pytestmark = pytest.mark.skipif(not PORT, reason="no real flash controller (BOOTH_FLASH_PORT)")


def test_real_controller_handshake_fire_and_recycle():
    with FlashController(PORT) as fc:
        assert fc.info.version == 1 and fc.info.channels == 5
        fc.fire("center")
        first = fc.wait_fired("center")
        with pytest.raises(FlashError, match="NOT_READY"):
            fc.fire("center")
        st = fc.status()
        assert st.state == m.State.IDLE and st.fires_last_minute >= 1
        assert first.t_us > 0
