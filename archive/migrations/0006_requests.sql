-- When the conversation's first callback or message request was left (handoff/requests.py: the customer's
-- "leave", or a callback the bot's form booked): people were needed though no chat was queued, so search's
-- "Bot only" leaves it out (handoff/search.py OUTCOMES), as the dashboard's containment does. Requests left
-- before the bridge wrote "request" facts are not known here: those conversations keep it NULL.

ALTER TABLE conversations ADD COLUMN first_request_at timestamptz;
