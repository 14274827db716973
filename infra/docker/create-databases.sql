-- One database per service, as infra/postgres.sh creates locally.
CREATE DATABASE accounts;
CREATE DATABASE billing;
CREATE DATABASE addresses;
CREATE DATABASE scheduler;
