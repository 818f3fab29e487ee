DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'user_service') THEN
    REVOKE SELECT, INSERT, UPDATE, DELETE ON TABLE users FROM user_service;
    REVOKE SELECT ON TABLE schema_migrations FROM user_service;
  END IF;
END
$$;
