-- Run once by the postgres image on an empty volume (docker-compose.yml).
CREATE DATABASE athena_demo;
CREATE DATABASE athena_logging;
