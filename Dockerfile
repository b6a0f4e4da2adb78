# One image for every function; the function is the first argument (or REFLEX_FUNCTION).
#   docker build -t registry.example/reflex:0.1.0 . && docker push registry.example/reflex:0.1.0
#   then a kustomization with images: [{name: ghcr.io/reflex-dev/reflex, newName: …}] (docs/install.md)
FROM node:24-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
# --ignore-scripts: the build needs no native add-ons, and the image's own Node is used.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY functions functions
COPY scripts/function.ts scripts/function-names.ts scripts/bundle.ts scripts/
# tsc, then each function bundled into dist/fn (scripts/bundle.ts): the image needs no node_modules.
RUN npm run build

FROM node:24-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY --from=build /src/dist dist
COPY package.json ./
COPY schemas schemas
COPY knative/config knative/config
# The node user (uid 1000) from the base image: never root. The root filesystem can be read-only.
USER 1000:1000
EXPOSE 8080
ENTRYPOINT ["node", "dist/scripts/function.js"]
