--
-- PostgreSQL database dump
--


-- Dumped from database version 15.20 (Debian 15.20-0+deb12u1)
-- Dumped by pg_dump version 15.20 (Debian 15.20-0+deb12u1)

SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;

--
-- Data for Name: stories; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.stories VALUES (1, '2026-12-01 09:00:00+00', '2026-12-01 10:00:00+00', 2);
INSERT INTO public.stories VALUES (3, '2026-12-01 11:00:00+00', '2026-12-01 11:00:00+00', 1);


--
-- Data for Name: articles; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.articles VALUES (1, 'w1', 'https://wire.example/a/1', 'https://wire.example/a/1', 'Harbour bridge vote passes', 'Wire', '2026-12-01 09:00:00+00', '2026-12-01 09:05:00+00', 'The council voted to rebuild the harbour bridge by 2028.', false, 'fa319291b2c43706400251a93780ad649b08317043bc991c63453f0b54d5ad71', 1, DEFAULT);
INSERT INTO public.articles VALUES (2, 'l2', 'https://ledger.example/b/2', 'https://ledger.example/b/2', 'Bridge rebuild approved by council', 'Ledger', '2026-12-01 10:00:00+00', '2026-12-01 10:05:00+00', 'Councillors approved rebuilding the harbour bridge on Monday.', false, '68929dcf32fbf63374e85633603646909f56d0f0fcc123f169efdcf4cd4edf0b', 1, DEFAULT);
INSERT INTO public.articles VALUES (3, 'o9', 'https://own.example/x/9', 'https://own.example/x/9', 'Ferry timetable changes', 'Own', '2026-12-01 11:00:00+00', '2026-12-01 11:05:00+00', 'Ferries will run every twenty minutes from January.', false, 'a3d9cd519a9b6bda2e0a2b5c75abfa097ce5258e8322d963f0ec15b888d07049', 3, DEFAULT);


--
-- Data for Name: feeds; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.feeds VALUES (3, 'https://own.example/atom', NULL, NULL, NULL, NULL, 0, NULL, NULL, NULL, false, '2026-12-07 20:06:37.028953+00', NULL, NULL, NULL);
INSERT INTO public.feeds VALUES (1, 'https://wire.example/feed', 'The Wire', '"e1"', 'Mon, 01 Dec 2026 09:00:00 GMT', '2026-12-01 09:15:00+00', 0, NULL, '2026-12-01 09:00:00+00', '2026-12-01 09:00:00+00', true, '2026-12-07 20:06:37.021967+00', NULL, NULL, NULL);
INSERT INTO public.feeds VALUES (2, 'https://ledger.example/rss', NULL, NULL, NULL, '2026-12-01 09:30:00+00', 1, 'HTTP 503', NULL, '2026-12-01 09:00:00+00', true, '2026-12-07 20:06:37.021967+00', NULL, NULL, NULL);


--
-- Data for Name: article_feeds; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.article_feeds VALUES (1, 1, 'w1');
INSERT INTO public.article_feeds VALUES (2, 2, 'l2');
INSERT INTO public.article_feeds VALUES (1, 2, NULL);
INSERT INTO public.article_feeds VALUES (3, 3, 'o9');


--
-- Data for Name: article_prints; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.article_prints VALUES (1, '{"words":{"harbour":3,"bridg":3,"vote":3,"pass":2,"council":1,"rebuild":1,"2028":1},"names":{},"title_names":[],"lead_figures":["2028"],"figures":["2028"],"shingle_count":6}', '\xd6944c3737f9a84394b39f9c0ebeeaafdc3e42bfd219e7d6');
INSERT INTO public.article_prints VALUES (2, '{"words":{"bridg":3,"rebuild":3,"approv":3,"council":2,"councillor":1,"harbour":1,"monday":1},"names":{"monday":1},"title_names":[],"lead_figures":[],"figures":[],"shingle_count":4}', '\xdfdbb14bfa3e2d51b1bd4f6e784cdb74');
INSERT INTO public.article_prints VALUES (3, '{"words":{"ferri":3,"timet":2,"chang":2,"run":1,"twenti":1,"minut":1,"januari":1},"names":{"januari":1},"title_names":[],"lead_figures":[],"figures":[],"shingle_count":4}', '\xc190f71eaf4f8e2386a0ae6abc7d238f');


--
-- Data for Name: claim_checks; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.claim_checks VALUES (1, '2026-12-01 09:00:00+00', 'digest_item', 5, 1, 1, 0);


--
-- Data for Name: deliveries; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.deliveries VALUES ('reply:slack:T1:C1:111.1', 'slack', 'T1', 'C1', 'claimed', NULL, '2026-12-07 20:06:37.108803+00', '2026-12-07 20:06:37.108803+00', NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0, false, NULL);
INSERT INTO public.deliveries VALUES ('digest:1:2026-12-02', 'slack', 'T1', 'C1', 'posted', '1700000000.000100', '2026-12-02 09:00:00+00', '2026-12-02 09:00:00+00', NULL, '{"kind": "digest", "article_ids": [1, 2, 3], "stories": [[1, 2], [3, 1]]}', '2026-12-02 09:00:00+00', '2026-12-02 10:00:00+00', NULL, NULL, NULL, 0, false, NULL);
INSERT INTO public.deliveries VALUES ('command:slack:T1:C1:trig-1', 'slack', 'T1', 'C1', 'pending', NULL, '2026-12-02 11:00:00+00', '2026-12-07 20:06:37.137847+00', NULL, '{"kind": "brief", "article_ids": [3], "stories": []}', NULL, NULL, NULL, NULL, '2026-12-02 09:00:30+00', 1, false, 'TimeoutError: slow');


--
-- Data for Name: delivery_parts; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.delivery_parts VALUES ('digest:1:2026-12-02', 0, '{"text": "part one"}', 'sent', '2026-12-02 09:00:00+00', '1700000000.000100', '1700000000.000100', '2026-12-02 09:00:00+00');
INSERT INTO public.delivery_parts VALUES ('digest:1:2026-12-02', 1, '{"text": "part two"}', 'sent', NULL, '1700000000.000200', '1700000000.000200', '2026-12-02 09:00:00+00');
INSERT INTO public.delivery_parts VALUES ('command:slack:T1:C1:trig-1', 0, '{"text": "brief"}', 'sending', '2026-12-02 09:00:00+00', NULL, NULL, NULL);


--
-- Data for Name: llm_cache; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.llm_cache VALUES ('k1', 'summary', 'm', 'v1', '{"headline": "h"}', '2026-12-07 20:06:37.144608+00');


--
-- Data for Name: llm_calls; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.llm_calls VALUES (1, '2026-12-01 09:00:00+00', 'summary', 'm', 'v1', 'ok', 100, 20, 350, NULL);
INSERT INTO public.llm_calls VALUES (2, '2026-12-01 09:00:00+00', 'summary', 'm', 'v1', 'fallback', 0, 0, 0, 'timeout');


--
-- Data for Name: threads; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.threads VALUES (1, 'slack', 'T1', 'C1', '1700000000.000100', 'digest', '[1, 2, 3]', '2026-12-02 09:00:00+00');
INSERT INTO public.threads VALUES (2, 'slack', 'T1', 'C1', '1700000000.000200', 'digest', '[1, 2, 3]', '2026-12-02 09:00:00+00');


--
-- Data for Name: qa_turns; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.qa_turns VALUES (1, 1, 'What was decided?', 'The bridge will be rebuilt. [1]', '[1]', '2026-12-07 20:06:37.140736+00');


--
-- Data for Name: reprints; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.reprints VALUES (1, 'https://copy.example/c/1', 'https://copy.example/c/1', 'Copy Times', '2026-12-01 09:30:00+00');


--
-- Data for Name: story_posts; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.story_posts VALUES ('slack', 'T1', 'C1', 1, 2, '1700000000.000100', '2026-12-02 09:00:00+00');
INSERT INTO public.story_posts VALUES ('slack', 'T1', 'C1', 3, 1, '1700000000.000100', '2026-12-02 09:00:00+00');


--
-- Data for Name: subscriptions; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.subscriptions VALUES (1, 'slack', 'T1', 'C1', '["bridge", "ferry"]', '08:00', 'Europe/Kyiv', '2026-12-02 09:00:00+00', true, '2026-12-07 20:06:37.096756+00', '2026-12-07 20:06:37.096756+00');
INSERT INTO public.subscriptions VALUES (2, 'discord', '900', '2000', '[]', '18:30', 'UTC', NULL, true, '2026-12-07 20:06:37.104682+00', '2026-12-07 20:06:37.104682+00');


--
-- Data for Name: workspace_feeds; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.workspace_feeds VALUES ('slack', 'T1', 3, 'C1', 'U1', '2026-12-07 20:06:37.033311+00');


--
-- Name: articles_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.articles_id_seq', 3, true);


--
-- Name: claim_checks_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.claim_checks_id_seq', 1, true);


--
-- Name: feeds_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.feeds_id_seq', 3, true);


--
-- Name: llm_calls_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.llm_calls_id_seq', 2, true);


--
-- Name: qa_turns_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.qa_turns_id_seq', 1, true);


--
-- Name: subscriptions_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.subscriptions_id_seq', 2, true);


--
-- Name: threads_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.threads_id_seq', 2, true);


--
-- PostgreSQL database dump complete
--


