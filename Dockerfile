# The bridge as a container: a static binary on distroless, run as nonroot.
# Mount the configuration at /etc/bridge/bridge.yaml and pass its secrets
# as environment variables.

FROM golang:1.26 AS build
WORKDIR /src
# Modules first, so that a code change does not download them again.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o /out/bridge ./cmd/bridge

# Static: no libc, no shell, only CA certificates, tzdata and a nonroot user.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/bridge /bridge
# Numeric, so that runtimes enforcing runAsNonRoot can check it.
USER 65532:65532
EXPOSE 8080
# Exec form: the image has no shell. The subcommand GETs /healthz on
# 127.0.0.1:8080, or $BRIDGE_HEALTHCHECK_URL when the listen address differs.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
	CMD ["/bridge", "healthcheck"]
ENTRYPOINT ["/bridge"]
CMD ["serve", "-config", "/etc/bridge/bridge.yaml"]
