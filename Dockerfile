# Build stage: compile TypeScript.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY types ./types
# npm ci no longer builds (the build is prepack, so a production npm ci needs no tsc).
RUN npm ci --no-audit --no-fund && npm run build

# Runtime stage: production dependencies and the compiled output only.
FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund
COPY --from=build /app/dist ./dist
COPY bin ./bin
COPY views ./views
COPY contrib ./contrib
COPY prosody-example.cfg.lua ./
USER node
EXPOSE 8080
# A larger young generation: fewer GC pauses per request (docs/operations.md, "Worker processes").
ENTRYPOINT ["node", "--max-semi-space-size=32", "bin/xmpp-oauth.js"]
CMD ["serve"]
