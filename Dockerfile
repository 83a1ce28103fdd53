# syntax=docker/dockerfile:1
# Static athena binary on a distroless base. docker-compose.yml runs it as `serve`.

FROM golang:1.27 AS build
WORKDIR /src
ENV CGO_ENABLED=0
# Dependencies first, so a source change does not download modules again.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN go build -trimpath -ldflags="-s -w" -o /out/athena ./cmd/athena

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/athena /athena
USER nonroot:nonroot
EXPOSE 4052
ENTRYPOINT ["/athena"]
CMD ["serve"]
