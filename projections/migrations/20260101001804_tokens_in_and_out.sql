-- Input and output tokens apart. What was counted before was counted as input tokens, and an
-- agent's one rate becomes its rate for both.
alter table rm_run_steps rename column tokens to input_tokens;
alter table rm_run_steps add column output_tokens bigint not null default 0;
alter table rm_usage rename column tokens to input_tokens;
alter table rm_usage add column output_tokens bigint not null default 0;
alter table rm_agents rename column per_1k_tokens to per_1k_input_tokens;
alter table rm_agents add column per_1k_output_tokens bigint not null default 0;
update rm_agents set per_1k_output_tokens = per_1k_input_tokens;
