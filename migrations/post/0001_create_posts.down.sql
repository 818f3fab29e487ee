-- Undoes 0001's up: posts is the table it created.
-- squawk-ignore-file ban-drop-table
DROP TABLE posts;
