"""Keys handled one at a time, in the order they were typed.

Textual forwards each key to the focused widget's queue as it arrives, and a key the widget
does not use bubbles back up to the screen's and the app's bindings later. A burst typed
faster than that round trip is split wrongly: in ``fast1`` Tab ``opx`` Enter, the Tab reached
the app's focus binding after ``opx`` had already gone into the first field (a session named
``fast1opx``), and the letters after ``a`` went to the table, not to the form ``a`` opens.

:class:`OrderedKeysApp` holds each key until the one before has settled: after forwarding it,
the app sends a :class:`KeySettled` marker down the same path; messages bubble in queue
order, so the marker comes back only after the key (and what it posted first) was handled.
Rounds repeat while the key changed the screen or the focus (a form opened, a dialog closed),
so the next key goes where the operator saw it going. Textual has no such option. A marker
sent to a widget that was removed is lost: the next key goes once the widget is gone, or after
a longer timeout whatever happened (a new screen still composing on a busy machine is waited
for: its marker comes once it is mounted).
"""

from __future__ import annotations

import collections
import time

from textual import events
from textual.app import App
from textual.message import Message

#: Rounds of markers at most per key; how often a key's marker is looked after, and the time
#: after which the next key goes anyway.
MAX_ROUNDS = 6
CHECK_S = 0.5
TIMEOUT_S = 10.0


class KeySettled(Message):
    """The marker that follows a key along its path; ``token`` names the key."""

    def __init__(self, token: int) -> None:
        self.token = token
        super().__init__()


class OrderedKeysApp(App):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._keys_held: collections.deque[events.Key] = collections.deque()
        self._key_token = 0
        self._key_in_flight: int | None = None
        self._key_rounds = 0
        self._key_view: tuple[object, object] = (None, None)
        self._key_target: object = None
        self._key_sent_at = 0.0

    @property
    def keys_settled(self) -> bool:
        """Every key typed so far handled, and the screen it led to mounted."""
        return (self._key_in_flight is None and not self._keys_held
                and self.screen.is_mounted)

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.Key) and not event.is_forwarded:
            if self._key_in_flight is not None:
                self._keys_held.append(event)
                return
            await self._send_key(event)
            return
        await super().on_event(event)

    async def _send_key(self, event: events.Key) -> None:
        self._key_token += 1
        token = self._key_in_flight = self._key_token
        self._key_rounds = 0
        self._key_sent_at = time.monotonic()
        await super().on_event(event)  # the app's priority bindings, then the focused widget
        self.set_timer(CHECK_S, lambda: self._check(token))
        self._settle_round()

    def _settle_round(self) -> None:
        self._key_view = (self.screen, self.focused)
        self._key_target = self.focused or self.screen
        self._key_target.post_message(KeySettled(self._key_token))

    async def _check(self, token: int) -> None:
        """Release the next key if this one's marker can no longer come back."""
        if token != self._key_in_flight:
            return
        target = self._key_target
        alive = getattr(target, "is_attached", False)
        if alive and time.monotonic() - self._key_sent_at < TIMEOUT_S:
            self.set_timer(CHECK_S, lambda: self._check(token))
            return
        await self._release(token)

    async def on_key_settled(self, message: KeySettled) -> None:
        message.stop()
        if message.token != self._key_in_flight:
            return
        self._key_rounds += 1
        moved = (self.screen, self.focused) != self._key_view
        if (moved or self._key_rounds < 2) and self._key_rounds < MAX_ROUNDS:
            self._settle_round()
            return
        await self._release(message.token)

    async def _release(self, token: int) -> None:
        if token != self._key_in_flight:
            return
        self._key_in_flight = None
        if self._keys_held:
            await self._send_key(self._keys_held.popleft())
