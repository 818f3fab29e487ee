-- Undoes 0001's up: users is the table it created.
-- squawk-ignore-file ban-drop-table
DROP TABLE users;
