# syntax=docker/dockerfile:1
#
# Videologue in a container: a static binary on a distroless base, run as
# an unprivileged user. The browser bundle (web/static/app.js) is committed
# and embedded by the Go build, so no Node.js is needed here.
#
#   docker build -t videologue .
#   docker run -p 4000:4000 -v videologue-data:/data \
#     -e VIDEOLOGUE_SECRET="$(openssl rand -base64 32)" \
#     -e VIDEOLOGUE_DATA_KEY="$(openssl rand -base64 32)" \
#     -e VIDEOLOGUE_PUBLIC_URL=http://localhost:4000 videologue
#
# It runs in production mode: it listens on every interface, so it refuses
# to start without a strong secret of your own, a data key (which wraps
# the users' keys: keep it, and keep it apart from backups) and the site's
# public address. Keep the secret: tokens and sign-in cookies signed with it end when
# it changes.
#
# See docs/DEPLOYMENT.md for the store flags (--store, --store-url) and the
# compose file beside this one.

FROM golang:1.26 AS build
WORKDIR /src
# Modules first, so that editing the code does not download them again.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# Pure Go: pebble, pgx and the KurrentDB client need no cgo, and a static
# binary runs on the distroless base.
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/videologue ./cmd/videologue \
 && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/videologue /usr/local/bin/videologue
# The embedded log lives in /data. The directory exists in the image,
# owned by the nonroot user (65532), so that a named volume mounted there
# starts writable for it.
COPY --from=build --chown=65532:65532 /out/data /data
VOLUME ["/data"]
USER nonroot:nonroot
EXPOSE 4000
ENTRYPOINT ["/usr/local/bin/videologue"]
CMD ["serve", "--env", "prod", "--addr", "0.0.0.0:4000", "--data", "/data"]
