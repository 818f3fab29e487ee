-- Dropping the tables drops their grants and the trigger with them. Events
-- not yet consumed are lost: post-service's reconciliation (`post-service
-- reconcile`) repairs what they would have done.
-- Undoes 0003's up: every table dropped here is one it created.
-- squawk-ignore-file ban-drop-table
DROP TABLE user_events_pruned;
DROP TABLE user_events;
DROP FUNCTION user_events_notify();
