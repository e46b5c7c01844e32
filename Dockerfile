# oispd's container image: built by the project's own scripts, run as a
# non-root user. Used by the DaemonSet in deploy/kubernetes/.
#
#   docker build -t oispd:0.1.0 .
#
# Stage 1 installs what the build needs (scripts/setup.sh --build-only) and
# builds the Debian package (scripts/build-deb.sh: a release build of
# oispd). Stage 2 is a slim Debian with that package installed: the same
# files, config and user as on a host, plus file capabilities on the
# binary (the ebpf receiver's set, docs/security.md) so that the non-root
# user gets them without the rest of root.

FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY scripts/setup.sh scripts/setup.sh
RUN bash scripts/setup.sh --build-only
COPY . .
RUN CARGO_TARGET_DIR=/var/tmp/oispd-target bash scripts/build-deb.sh --out /dist

FROM debian:12-slim
# The oispd user with a fixed id (the DaemonSet's runAsUser), made before
# the package so that its postinst keeps it.
RUN groupadd --system --gid 65532 oispd \
 && useradd --system --uid 65532 --gid oispd --no-create-home --home-dir /var/lib/oispd \
      --shell /usr/sbin/nologin oispd
COPY --from=build /dist/ /tmp/dist/
RUN apt-get update \
 && apt-get install -y --no-install-recommends /tmp/dist/oispd_*.deb libcap2-bin \
 && setcap cap_sys_admin,cap_sys_ptrace,cap_dac_read_search+ep /usr/bin/oispd \
 && apt-get purge -y libcap2-bin \
 && apt-get autoremove -y \
 && rm -rf /tmp/dist /var/lib/apt/lists/*
USER 65532:65532
ENTRYPOINT ["/usr/bin/oispd"]
CMD ["--config", "/etc/oispd/config.yaml"]
