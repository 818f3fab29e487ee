DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'post_service') THEN
    REVOKE SELECT, INSERT, UPDATE, DELETE ON TABLE posts FROM post_service;
    REVOKE SELECT ON TABLE schema_migrations FROM post_service;
  END IF;
END
$$;
