# One cachelab app instance (packages/app), as docker-compose.yml runs three of them.
#
# The build stage compiles the app and the packages it uses to JavaScript (`tsc -b`, into each
# package's dist/), as `npm start` does; the runtime stage installs production dependencies only,
# copies the compiled dist/ directories and runs them with plain node (no tsx) as the unprivileged
# `node` user.

# --- build: every dependency, and the app and its packages compiled to dist/. ---
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
COPY packages/cache/package.json packages/cache/
COPY packages/store/package.json packages/store/
COPY packages/app/package.json packages/app/
# The lab, the testkit and the interop harness are development tools (the root's dev dependency
# links the lab's bin): their manifests only, so that the install and `npm ls` see every workspace
# the lock file names.
COPY packages/lab/package.json packages/lab/
COPY packages/testkit/package.json packages/testkit/
COPY packages/interop/package.json packages/interop/
# `npm ls` fails on a missing or invalid dependency: npm 10 can end a failed install with
# "Exit handler never called!" and exit 0, and the build must stop there.
RUN npm ci --no-audit --no-fund && npm ls >/dev/null
COPY tsconfig.base.json ./
COPY packages packages
# The TypeScript of the lock file, never a package that npx would fetch if it were missing.
RUN node_modules/.bin/tsc -b packages/app
# The protocol's Lua scripts, which the compiled library reads from its dist/lua/ (as npm run build
# copies them there).
COPY protocol/scripts packages/cache/dist/lua

# --- runtime: production dependencies and the compiled JavaScript, nothing else. ---
FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
COPY packages/cache/package.json packages/cache/
COPY packages/store/package.json packages/store/
COPY packages/app/package.json packages/app/
RUN npm ci --omit=dev --no-audit --no-fund && npm ls --omit=dev >/dev/null && npm cache clean --force
COPY --from=build /app/packages/cache/dist packages/cache/dist
COPY --from=build /app/packages/store/dist packages/store/dist
COPY --from=build /app/packages/app/dist packages/app/dist
USER node
# Listen on every interface of the container; docker-compose.yml publishes the port on loopback.
# The ports of npm start's instances: docker-compose.yml sets PORT to 3001, 3002 and 3003.
ENV HOST=0.0.0.0 PORT=3001
EXPOSE 3001 3002 3003
# Healthy = ready to serve (the database answers; without Redis it serves degraded). curl is not
# in the slim image, so Node itself asks.
HEALTHCHECK --interval=5s --timeout=3s --start-period=30s --retries=5 \
  CMD ["node", "-e", "fetch(`http://127.0.0.1:${process.env.PORT}/readyz`).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "packages/app/dist/main.js"]
