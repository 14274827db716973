#!/usr/bin/env bash
# The broker of docker-compose.yml (apache/kafka image), secured as infra/kafka.sh secures the dev
# and test brokers: SASL/SCRAM-SHA-512 on every client listener, ACLs enforced by KRaft's
# StandardAuthorizer with nothing allowed without one, super users admin and ANONYMOUS (the broker's
# own principal on the PLAINTEXT controller listener, which listens on the container's loopback
# only). The SCRAM users are created when the storage is formatted, from KAFKA_<NAME>_PASSWORD
# (the .env that `make compose-env` generates); `cutover-topics` (the migrate container) then
# creates the topics and ACLs as admin.
#
# Listeners: SASL_PLAINTEXT on kafka:9092 for the containers, HOST on :29092 for the host
# (published on 127.0.0.1:9092 only), CONTROLLER on 127.0.0.1:9093.
set -euo pipefail

PRINCIPALS=(admin accounts billing addresses scheduler observer)
DATA_DIR=/var/lib/kafka/data
CONFIG_FILE=/tmp/server.properties
ADMIN_CLIENT_FILE=/tmp/admin-client.properties
KAFKA=/opt/kafka/bin

password_of() {
  local variable="KAFKA_${1^^}_PASSWORD"
  [ -n "${!variable:-}" ] || { echo "kafka-start.sh: $variable is not set" >&2; exit 1; }
  echo "${!variable}"
}

umask 077
ADMIN_PASSWORD="$(password_of admin)"
cat >"$CONFIG_FILE" <<PROPERTIES
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:9093
listeners=SASL_PLAINTEXT://:9092,HOST://:29092,CONTROLLER://127.0.0.1:9093
advertised.listeners=SASL_PLAINTEXT://kafka:9092,HOST://127.0.0.1:9092
controller.listener.names=CONTROLLER
inter.broker.listener.name=SASL_PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,HOST:SASL_PLAINTEXT
log.dirs=$DATA_DIR

sasl.enabled.mechanisms=SCRAM-SHA-512
sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512
listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="$ADMIN_PASSWORD";
listener.name.host.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
allow.everyone.if.no.acl.found=false
super.users=User:admin;User:ANONYMOUS

auto.create.topics.enable=false
num.partitions=6
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
PROPERTIES

# The healthcheck's login.
cat >"$ADMIN_CLIENT_FILE" <<PROPERTIES
security.protocol=SASL_PLAINTEXT
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="$ADMIN_PASSWORD";
PROPERTIES

# Users are written into the storage when it is formatted: changing a password in .env later
# needs a new storage (`docker compose down -v`).
if [ ! -f "$DATA_DIR/meta.properties" ]; then
  scram=()
  for name in "${PRINCIPALS[@]}"; do
    scram+=(--add-scram "SCRAM-SHA-512=[name=$name,password=$(password_of "$name")]")
  done
  "$KAFKA/kafka-storage.sh" format -t "$("$KAFKA/kafka-storage.sh" random-uuid)" \
    -c "$CONFIG_FILE" "${scram[@]}"
fi

exec "$KAFKA/kafka-server-start.sh" "$CONFIG_FILE"
