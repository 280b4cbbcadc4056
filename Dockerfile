# syntax=docker/dockerfile:1
#
# The mailfleet runtime image: one image for every role (hub, node, gateway,
# proxy); the role comes from the RuntimeConfig (MAILFLEET_CONFIG).
#
# Base image: Node.js 20 on Debian 12 "bookworm", slim variant, pinned to an
# exact version AND to the digest of its multi-arch image index, so a rebuilt
# tag can never change what we ship. Source of the digest: the docker-library
# "repo-info" record of node:20.20.2-bookworm-slim (index built 2026-03-25).
# Bump version and digest together.
ARG NODE_IMAGE=node:20.20.2-bookworm-slim@sha256:1e85773c98c31d4fe5b545e4cb17379e617b348832fb3738b22a08f68dec30f3

# --- build stage: production dependencies only -----------------------------
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
# --ignore-scripts: no dependency install script runs (supply-chain hygiene; the
# runtime has no native modules, and @pulumi/kubernetes' plugin download is
# useless in a mail container).
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
    && npm cache clean --force

# --- dashboard stage: the hub's web page (Vite + Preact + uPlot), built here ---
# All dependencies (the build tools are dev dependencies) stay in this stage;
# only the static files reach the image, so a deployed hub serves
# /dashboard/ with no internet and no build on the host.
FROM ${NODE_IMAGE} AS dashboard
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY dashboard ./dashboard
RUN node node_modules/vite/bin/vite.js build --config dashboard/vite.config.mts

# --- runtime stage -----------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    MAILFLEET_CONFIG=/etc/mailfleet/config.json
WORKDIR /app

# Code and dependencies stay owned by root: the process cannot modify itself.
COPY --from=deps /app/node_modules ./node_modules
COPY package.json tsconfig.json ./
COPY bin ./bin
COPY mail-runtime ./mail-runtime
# The CLI validates specs and renders configs with components/spec.ts and render.ts.
COPY components ./components
# The hub finds the page at /app/dashboard/dist (mail-runtime/hub/api/static.ts findDashboardDir).
COPY --from=dashboard /app/dashboard/dist ./dashboard/dist

# Mount points: config, TLS and secret files are delivered here by the platform
# (uploads, Secrets, cloud-init); mail lives on the shared volume.
RUN mkdir -p /etc/mailfleet/tls /etc/mailfleet/secrets /var/lib/mailfleet \
    && chown -R 1000:1000 /etc/mailfleet /var/lib/mailfleet \
    && chmod 0700 /etc/mailfleet/secrets

# The base image's unprivileged "node" user, by number so that Kubernetes'
# runAsNonRoot can verify it. Binding the standard mail ports (< 1024) needs
# the sysctl net.ipv4.ip_unprivileged_port_start=0 (the docker adapter sets it)
# or the NET_BIND_SERVICE capability.
USER 1000:1000

# SMTP, POP3, IMAP, SMTPS, submission, IMAPS, POP3S, LMTP, hub HTTPS, management.
EXPOSE 25 110 143 465 587 993 995 24 443 9090

# Liveness from the management port; slim images have no curl, node does it.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["node", "-e", "require('node:http').get('http://127.0.0.1:9090/healthz', (r) => process.exit(r.statusCode === 200 ? 0 : 1)).on('error', () => process.exit(1))"]

STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "/app/bin/mailfleet.js"]
CMD ["run"]
