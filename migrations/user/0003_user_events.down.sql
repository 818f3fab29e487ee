-- Dropping the tables drops their grants and the trigger with them. Events
-- not yet consumed are lost: post-service's reconciliation (`post-service
-- reconcile`) repairs what they would have done.
DROP TABLE user_events_pruned;
DROP TABLE user_events;
DROP FUNCTION user_events_notify();
