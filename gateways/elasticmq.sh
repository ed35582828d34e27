#!/usr/bin/env bash
# ElasticMQ, the SQS-compatible server (Apache-2.0), for an on-prem control plane:
#   gateways/elasticmq.sh install             fetch it from Maven Central once (cached)
#   gateways/elasticmq.sh start PORT STATE    serve SQS on 127.0.0.1:PORT, messages kept in H2
#                                             under STATE (they survive a kill -9)
#   gateways/elasticmq.sh stop STATE
# Prints S3BATCH_SQS_URL.
set -euo pipefail
source "$(dirname "$0")/daemon.sh"
version="1.7.1"
cache="${S3BATCH_CACHE:-$HOME/.cache/s3batch}"
home="$cache/elasticmq-$version"

install() {
  [[ -f "$home/.s3batch-ready" ]] && return 0
  command -v java >/dev/null || { echo "elasticmq.sh: needs Java 11 or later" >&2; exit 1; }
  command -v mvn >/dev/null || { echo "elasticmq.sh: needs Maven to fetch ElasticMQ" >&2; exit 1; }
  mkdir -p "$home"
  exec 8>"$cache/elasticmq-install.lock"
  flock 8
  [[ -f "$home/.s3batch-ready" ]] && return 0
  echo "fetching ElasticMQ $version from Maven Central into $home (one-off)" >&2
  cat >"$home/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>s3batch</groupId>
  <artifactId>elasticmq-runtime</artifactId>
  <version>1</version>
  <dependencies>
    <dependency>
      <groupId>org.elasticmq</groupId>
      <artifactId>elasticmq-server_2.13</artifactId>
      <version>$version</version>
    </dependency>
  </dependencies>
</project>
EOF
  mvn -q -B -f "$home/pom.xml" dependency:copy-dependencies -DincludeScope=runtime \
    -DoutputDirectory="$home/lib" >&2
  touch "$home/.s3batch-ready"
}

healthy() { # port: ListQueues answers (ElasticMQ does not check signatures)
  curl -sS -m 2 -X POST -H "content-type: application/x-www-form-urlencoded" \
    -d "Action=ListQueues" "http://127.0.0.1:$1/" 2>/dev/null | grep -q "ListQueuesResponse"
}

start() { # port state
  local port="$1" state="$2"
  install
  mkdir -p "$state"
  state="$(cd "$state" && pwd)"
  if ! healthy "$port"; then
    cat >"$state/elasticmq.conf" <<EOF
include classpath("application.conf")
node-address { protocol = "http", host = "127.0.0.1", port = $port, context-path = "" }
rest-sqs { enabled = true, bind-port = $port, bind-hostname = "127.0.0.1", sqs-limits = strict }
rest-stats { enabled = false }
generate-node-address = false
queues-storage { enabled = true, path = "$state/queues.conf" }
messages-storage { enabled = true, uri = "jdbc:h2:$state/messages" }
aws { region = "us-east-1", accountId = "000000000000" }
EOF
    daemon_start elasticmq "$state" java -Xmx512m -Dconfig.file="$state/elasticmq.conf" -cp "$home/lib/*" \
      org.elasticmq.server.Main
    daemon_wait elasticmq "$state" "$port" 60
  fi
  echo "S3BATCH_SQS_URL=http://127.0.0.1:$port"
}

stop() { daemon_stop elasticmq "$1"; }

daemon_main elasticmq.sh "$@"
