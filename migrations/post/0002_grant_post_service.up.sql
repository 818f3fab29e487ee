-- post-service connects as the role post_service and needs exactly this on its
-- table. The role is created by whoever provisions the database; where it does
-- not exist there is nothing to grant. Create the role before running migrate.
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'post_service') THEN
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE posts TO post_service;
    -- Read-only on the history, so that `migrate wait` can run with the
    -- service's own credentials (Kubernetes init containers).
    GRANT SELECT ON TABLE schema_migrations TO post_service;
  END IF;
END
$$;
