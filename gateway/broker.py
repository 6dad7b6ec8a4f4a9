"""The embedded MQTT broker (amqtt) that lets `scgw demo` run with nothing installed.

Production uses Mosquitto or EMQX; amqtt speaks MQTT 3.1.1 only, so the demo's gateway
connects with protocol 3.1.1 and a persistent (clean session off) session.
"""

import contextlib
import logging
from collections.abc import AsyncIterator

from amqtt.broker import Broker

from gateway.errors import GatewayError


@contextlib.asynccontextmanager
async def embedded_broker(host: str, port: int) -> AsyncIterator[str]:
    """Run a broker on host:port for the block; yields its `mqtt://` URL."""
    config = {
        "listeners": {"default": {"type": "tcp", "bind": f"{host}:{port}"}},
        "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
    }
    # amqtt logs every connection at INFO; the demo's console is for the gateway's story.
    for noisy in ("amqtt", "transitions"):  # amqtt's session state machine logs at INFO
        logging.getLogger(noisy).setLevel(logging.WARNING)
    broker = Broker(config)
    try:
        await broker.start()
    except Exception as exc:  # amqtt wraps bind failures in its own BrokerError
        raise GatewayError(
            f"embedded broker cannot listen on {host}:{port} ({exc}); is another broker"
            " running there? Choose another port with --mqtt-port"
        ) from exc
    try:
        yield f"mqtt://{host}:{port}"
    finally:
        await broker.shutdown()
