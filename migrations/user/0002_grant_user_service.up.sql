-- user-service connects as the role user_service and needs exactly this on its
-- table. The role is created by whoever provisions the database (it holds a
-- password); where it does not exist yet (e.g. a developer database) there is
-- nothing to grant. Create the role before running migrate.
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'user_service') THEN
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE users TO user_service;
    -- Read-only on the history, so that `migrate wait` can run with the
    -- service's own credentials (Kubernetes init containers).
    GRANT SELECT ON TABLE schema_migrations TO user_service;
  END IF;
END
$$;
