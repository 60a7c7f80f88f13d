"""Exits 0 when every named RabbitMQ queue has a consumer, 1 otherwise (or if one is missing).

Nova's daemons talk over RPC queues: nova-compute started before the conductor consumes its
queue waits a fixed 10 s, and a compute is ready for builds once it consumes its own. The broker
URL (``amqp://``, kombu's name for oslo.messaging's ``rabbit://``) comes from the environment
(DEVCLOUD_RABBIT_URL) so its password never shows up in ``ps``. Called in a polling loop: a
broker not up yet is a plain "no".
"""

import os
import sys

import kombu
import kombu.exceptions


def consumed(conn: kombu.Connection, queue: str) -> bool:
    channel = conn.channel()
    try:
        _, _, consumers = channel.queue_declare(queue, passive=True)
    except conn.channel_errors:
        return False
    channel.close()
    return consumers > 0


def main() -> int:
    try:
        with kombu.Connection(os.environ["DEVCLOUD_RABBIT_URL"], connect_timeout=2) as conn:
            return 0 if all(consumed(conn, queue) for queue in sys.argv[1:]) else 1
    except (OSError, kombu.exceptions.KombuError):
        return 1


if __name__ == "__main__":
    sys.exit(main())
