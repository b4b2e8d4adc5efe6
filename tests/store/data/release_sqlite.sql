PRAGMA foreign_keys=OFF;
BEGIN TRANSACTION;
CREATE TABLE feeds (
        id INTEGER PRIMARY KEY,
        url TEXT NOT NULL UNIQUE,
        title TEXT,
        etag TEXT,
        last_modified TEXT,
        next_poll_at TEXT,
        consecutive_failures INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        last_success_at TEXT,
        last_attempt_at TEXT,
        is_default INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL
    , blocked_by TEXT, lease_owner TEXT, lease_until TEXT);
INSERT INTO feeds VALUES(1,'https://wire.example/feed','The Wire','"e1"','Mon, 01 Dec 2026 09:00:00 GMT','2026-12-01T09:15:00.000000Z',0,NULL,'2026-12-01T09:00:00.000000Z','2026-12-01T09:00:00.000000Z',1,'2026-12-07T20:06:26.625061Z',NULL,NULL,NULL);
INSERT INTO feeds VALUES(2,'https://ledger.example/rss',NULL,NULL,NULL,'2026-12-01T09:30:00.000000Z',1,'HTTP 503',NULL,'2026-12-01T09:00:00.000000Z',1,'2026-12-07T20:06:26.625061Z',NULL,NULL,NULL);
INSERT INTO feeds VALUES(3,'https://own.example/atom',NULL,NULL,NULL,NULL,0,NULL,NULL,NULL,0,'2026-12-07T20:06:26.628407Z',NULL,NULL,NULL);
CREATE TABLE workspace_feeds (
        platform TEXT NOT NULL,
        workspace TEXT NOT NULL,
        feed_id INTEGER NOT NULL REFERENCES feeds(id) ON DELETE CASCADE,
        channel TEXT NOT NULL DEFAULT '',
        added_by TEXT,
        added_at TEXT NOT NULL,
        PRIMARY KEY (platform, workspace, feed_id)
    );
INSERT INTO workspace_feeds VALUES('slack','T1',3,'C1','U1','2026-12-07T20:06:26.628813Z');
CREATE TABLE articles (
        id INTEGER PRIMARY KEY,
        guid TEXT,
        url TEXT NOT NULL,
        canonical_url TEXT NOT NULL,
        title TEXT NOT NULL,
        source TEXT NOT NULL,
        published_at TEXT NOT NULL,
        fetched_at TEXT NOT NULL,
        text TEXT NOT NULL,
        is_full_text INTEGER NOT NULL,
        content_hash TEXT NOT NULL
    , story_id INTEGER REFERENCES stories(id));
INSERT INTO articles VALUES(1,'w1','https://wire.example/a/1','https://wire.example/a/1','Harbour bridge vote passes','Wire','2026-12-01T09:00:00.000000Z','2026-12-01T09:05:00.000000Z','The council voted to rebuild the harbour bridge by 2028.',0,'fa319291b2c43706400251a93780ad649b08317043bc991c63453f0b54d5ad71',1);
INSERT INTO articles VALUES(2,'l2','https://ledger.example/b/2','https://ledger.example/b/2','Bridge rebuild approved by council','Ledger','2026-12-01T10:00:00.000000Z','2026-12-01T10:05:00.000000Z','Councillors approved rebuilding the harbour bridge on Monday.',0,'68929dcf32fbf63374e85633603646909f56d0f0fcc123f169efdcf4cd4edf0b',1);
INSERT INTO articles VALUES(3,'o9','https://own.example/x/9','https://own.example/x/9','Ferry timetable changes','Own','2026-12-01T11:00:00.000000Z','2026-12-01T11:05:00.000000Z','Ferries will run every twenty minutes from January.',0,'a3d9cd519a9b6bda2e0a2b5c75abfa097ce5258e8322d963f0ec15b888d07049',3);
CREATE TABLE article_feeds (
        article_id INTEGER NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
        feed_id INTEGER NOT NULL REFERENCES feeds(id) ON DELETE CASCADE,
        guid TEXT,
        PRIMARY KEY (article_id, feed_id)
    );
INSERT INTO article_feeds VALUES(1,1,'w1');
INSERT INTO article_feeds VALUES(2,2,'l2');
INSERT INTO article_feeds VALUES(1,2,NULL);
INSERT INTO article_feeds VALUES(3,3,'o9');
PRAGMA writable_schema=ON;
INSERT INTO sqlite_schema(type,name,tbl_name,rootpage,sql)VALUES('table','articles_fts','articles_fts',0,'CREATE VIRTUAL TABLE articles_fts USING fts5(
        title, text,
        content=''articles'', content_rowid=''id'',
        tokenize=''porter unicode61 remove_diacritics 2''
    )');
CREATE TABLE IF NOT EXISTS 'articles_fts_data'(id INTEGER PRIMARY KEY, block BLOB);
INSERT INTO articles_fts_data VALUES(1,X'030c1a');
INSERT INTO articles_fts_data VALUES(10,X'000000000103030003010101020101030101');
INSERT INTO articles_fts_data VALUES(137438953473,X'00000077053032303238010601010b01056272696467010803010109020179010601010a0107636f756e63696c01060101030107686172626f7572010802010108010470617373010205010772656275696c640106010106010374686501080101020702016f01060101050104766f7465010804010104040b0d080e0f090e0b08');
INSERT INTO articles_fts_data VALUES(274877906945,X'000000780730617070726f76020804010103010562726964670208020101070201790202050107636f756e63696c02020608036c6f7202060101020107686172626f7572020601010601066d6f6e646169020601010901026f6e0206010108010772656275696c6402080301010401037468650206010105040e0d060c0a0e0d090f');
INSERT INTO articles_fts_data VALUES(412316860417,X'0000007606306368616e67030204010565766572690306010105010566657272690308020101020203726f6d030601010801076a616e75617269030601010901056d696e75740306010107010372756e0306010104010574696d6574030203020577656e74690306010106010477696c6c0306010103040a0c0d0a0e0c0a0a0c');
CREATE TABLE IF NOT EXISTS 'articles_fts_idx'(segid, term, pgno, PRIMARY KEY(segid, term)) WITHOUT ROWID;
INSERT INTO articles_fts_idx VALUES(1,X'',2);
INSERT INTO articles_fts_idx VALUES(2,X'',2);
INSERT INTO articles_fts_idx VALUES(3,X'',2);
CREATE TABLE IF NOT EXISTS 'articles_fts_docsize'(id INTEGER PRIMARY KEY, sz BLOB);
INSERT INTO articles_fts_docsize VALUES(1,X'040a');
INSERT INTO articles_fts_docsize VALUES(2,X'0508');
INSERT INTO articles_fts_docsize VALUES(3,X'0308');
CREATE TABLE IF NOT EXISTS 'articles_fts_config'(k PRIMARY KEY, v) WITHOUT ROWID;
INSERT INTO articles_fts_config VALUES('version',4);
CREATE TABLE subscriptions (
        id INTEGER PRIMARY KEY,
        platform TEXT NOT NULL,
        workspace TEXT NOT NULL,
        channel TEXT NOT NULL,
        topics TEXT NOT NULL DEFAULT '[]',
        digest_time TEXT NOT NULL,
        timezone TEXT NOT NULL,
        last_digest_at TEXT,
        enabled INTEGER NOT NULL DEFAULT 1,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        UNIQUE (platform, workspace, channel)
    );
INSERT INTO subscriptions VALUES(1,'slack','T1','C1','["bridge", "ferry"]','08:00','Europe/Kyiv','2026-12-02T09:00:00.000000Z',1,'2026-12-07T20:06:26.653233Z','2026-12-07T20:06:26.653233Z');
INSERT INTO subscriptions VALUES(2,'discord','900','2000','[]','18:30','UTC',NULL,1,'2026-12-07T20:06:26.654600Z','2026-12-07T20:06:26.654600Z');
CREATE TABLE deliveries (
        key TEXT PRIMARY KEY,
        platform TEXT NOT NULL,
        workspace TEXT NOT NULL,
        channel TEXT NOT NULL,
        status TEXT NOT NULL,
        message_ref TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    , thread_key TEXT, shows TEXT, due_at TEXT, late_after TEXT, lease_owner TEXT, lease_until TEXT, retry_at TEXT, attempts INTEGER NOT NULL DEFAULT 0, late_reported INTEGER NOT NULL DEFAULT 0, error TEXT);
INSERT INTO deliveries VALUES('reply:slack:T1:C1:111.1','slack','T1','C1','claimed',NULL,'2026-12-07T20:06:26.657785Z','2026-12-07T20:06:26.657785Z',NULL,NULL,NULL,NULL,NULL,NULL,NULL,0,0,NULL);
INSERT INTO deliveries VALUES('digest:1:2026-12-02','slack','T1','C1','posted','1700000000.000100','2026-12-02T09:00:00.000000Z','2026-12-02T09:00:00.000000Z',NULL,'{"kind": "digest", "article_ids": [1, 2, 3], "stories": [[1, 2], [3, 1]]}','2026-12-02T09:00:00.000000Z','2026-12-02T10:00:00.000000Z',NULL,NULL,NULL,0,0,NULL);
INSERT INTO deliveries VALUES('command:slack:T1:C1:trig-1','slack','T1','C1','pending',NULL,'2026-12-02T11:00:00.000000Z','2026-12-07T20:06:26.664613Z',NULL,'{"kind": "brief", "article_ids": [3], "stories": []}',NULL,NULL,NULL,NULL,'2026-12-02T09:00:30.000000Z',1,0,'TimeoutError: slow');
CREATE TABLE threads (
        id INTEGER PRIMARY KEY,
        platform TEXT NOT NULL,
        workspace TEXT NOT NULL,
        channel TEXT NOT NULL,
        thread_key TEXT NOT NULL,
        kind TEXT NOT NULL,
        article_ids TEXT NOT NULL,
        created_at TEXT NOT NULL,
        UNIQUE (platform, workspace, channel, thread_key)
    );
INSERT INTO threads VALUES(1,'slack','T1','C1','1700000000.000100','digest','[1, 2, 3]','2026-12-02T09:00:00.000000Z');
INSERT INTO threads VALUES(2,'slack','T1','C1','1700000000.000200','digest','[1, 2, 3]','2026-12-02T09:00:00.000000Z');
CREATE TABLE qa_turns (
        id INTEGER PRIMARY KEY,
        thread_id INTEGER NOT NULL REFERENCES threads(id) ON DELETE CASCADE,
        question TEXT NOT NULL,
        answer TEXT NOT NULL,
        article_ids TEXT NOT NULL DEFAULT '[]',
        asked_at TEXT NOT NULL
    );
INSERT INTO qa_turns VALUES(1,1,'What was decided?','The bridge will be rebuilt. [1]','[1]','2026-12-07T20:06:26.664937Z');
CREATE TABLE llm_cache (
        key TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        model TEXT NOT NULL,
        prompt_version TEXT NOT NULL,
        output TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
INSERT INTO llm_cache VALUES('k1','summary','m','v1','{"headline": "h"}','2026-12-07T20:06:26.665138Z');
CREATE TABLE llm_calls (
        id INTEGER PRIMARY KEY,
        at TEXT NOT NULL,
        kind TEXT NOT NULL,
        model TEXT NOT NULL,
        prompt_version TEXT NOT NULL,
        status TEXT NOT NULL,
        tokens_in INTEGER NOT NULL DEFAULT 0,
        tokens_out INTEGER NOT NULL DEFAULT 0,
        latency_ms INTEGER NOT NULL DEFAULT 0,
        error TEXT
    );
INSERT INTO llm_calls VALUES(1,'2026-12-01T09:00:00.000000Z','summary','m','v1','ok',100,20,350,NULL);
INSERT INTO llm_calls VALUES(2,'2026-12-01T09:00:00.000000Z','summary','m','v1','fallback',0,0,0,'timeout');
CREATE TABLE claim_checks (
        id INTEGER PRIMARY KEY,
        at TEXT NOT NULL,
        kind TEXT NOT NULL,
        checked INTEGER NOT NULL,
        recited INTEGER NOT NULL,
        dropped INTEGER NOT NULL,
        fallbacks INTEGER NOT NULL DEFAULT 0
    );
INSERT INTO claim_checks VALUES(1,'2026-12-01T09:00:00.000000Z','digest_item',5,1,1,0);
CREATE TABLE stories (
        id INTEGER PRIMARY KEY,
        first_seen TEXT NOT NULL,
        last_seen TEXT NOT NULL,
        version INTEGER NOT NULL DEFAULT 1
    );
INSERT INTO stories VALUES(1,'2026-12-01T09:00:00.000000Z','2026-12-01T10:00:00.000000Z',2);
INSERT INTO stories VALUES(3,'2026-12-01T11:00:00.000000Z','2026-12-01T11:00:00.000000Z',1);
CREATE TABLE reprints (
        article_id INTEGER NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
        canonical_url TEXT NOT NULL,
        url TEXT NOT NULL,
        source TEXT NOT NULL,
        published_at TEXT NOT NULL,
        PRIMARY KEY (article_id, canonical_url)
    );
INSERT INTO reprints VALUES(1,'https://copy.example/c/1','https://copy.example/c/1','Copy Times','2026-12-01T09:30:00.000000Z');
CREATE TABLE article_prints (
        article_id INTEGER PRIMARY KEY REFERENCES articles(id) ON DELETE CASCADE,
        data TEXT NOT NULL,
        shingles BLOB NOT NULL
    );
INSERT INTO article_prints VALUES(1,'{"words":{"harbour":3,"bridg":3,"vote":3,"pass":2,"council":1,"rebuild":1,"2028":1},"names":{},"title_names":[],"lead_figures":["2028"],"figures":["2028"],"shingle_count":6}',X'd6944c3737f9a84394b39f9c0ebeeaafdc3e42bfd219e7d6');
INSERT INTO article_prints VALUES(2,'{"words":{"bridg":3,"rebuild":3,"approv":3,"council":2,"councillor":1,"harbour":1,"monday":1},"names":{"monday":1},"title_names":[],"lead_figures":[],"figures":[],"shingle_count":4}',X'dfdbb14bfa3e2d51b1bd4f6e784cdb74');
INSERT INTO article_prints VALUES(3,'{"words":{"ferri":3,"timet":2,"chang":2,"run":1,"twenti":1,"minut":1,"januari":1},"names":{"januari":1},"title_names":[],"lead_figures":[],"figures":[],"shingle_count":4}',X'c190f71eaf4f8e2386a0ae6abc7d238f');
CREATE TABLE story_posts (
        platform TEXT NOT NULL,
        workspace TEXT NOT NULL,
        channel TEXT NOT NULL,
        story_id INTEGER NOT NULL REFERENCES stories(id) ON DELETE CASCADE,
        version INTEGER NOT NULL,
        thread_key TEXT NOT NULL,
        posted_at TEXT NOT NULL,
        PRIMARY KEY (platform, workspace, channel, story_id)
    );
INSERT INTO story_posts VALUES('slack','T1','C1',1,2,'1700000000.000100','2026-12-02T09:00:00.000000Z');
INSERT INTO story_posts VALUES('slack','T1','C1',3,1,'1700000000.000100','2026-12-02T09:00:00.000000Z');
CREATE TABLE delivery_parts (
        delivery_key TEXT NOT NULL REFERENCES deliveries(key) ON DELETE CASCADE,
        idx INTEGER NOT NULL,
        payload TEXT NOT NULL,
        state TEXT NOT NULL,
        sending_since TEXT,
        message_id TEXT,
        thread_key TEXT,
        sent_at TEXT,
        PRIMARY KEY (delivery_key, idx)
    );
INSERT INTO delivery_parts VALUES('digest:1:2026-12-02',0,'{"text": "part one"}','sent','2026-12-02T09:00:00.000000Z','1700000000.000100','1700000000.000100','2026-12-02T09:00:00.000000Z');
INSERT INTO delivery_parts VALUES('digest:1:2026-12-02',1,'{"text": "part two"}','sent',NULL,'1700000000.000200','1700000000.000200','2026-12-02T09:00:00.000000Z');
INSERT INTO delivery_parts VALUES('command:slack:T1:C1:trig-1',0,'{"text": "brief"}','sending','2026-12-02T09:00:00.000000Z',NULL,NULL,NULL);
CREATE UNIQUE INDEX articles_canonical_url ON articles(canonical_url);
CREATE UNIQUE INDEX articles_content_hash ON articles(content_hash);
CREATE INDEX articles_published_at ON articles(published_at);
CREATE UNIQUE INDEX article_feeds_guid ON article_feeds(feed_id, guid)
        WHERE guid IS NOT NULL;
CREATE INDEX article_feeds_feed ON article_feeds(feed_id);
CREATE TRIGGER articles_ai AFTER INSERT ON articles BEGIN
        INSERT INTO articles_fts(rowid, title, text) VALUES (new.id, new.title, new.text);
    END;
CREATE TRIGGER articles_ad AFTER DELETE ON articles BEGIN
        INSERT INTO articles_fts(articles_fts, rowid, title, text)
            VALUES ('delete', old.id, old.title, old.text);
    END;
CREATE TRIGGER articles_au AFTER UPDATE OF title, text ON articles BEGIN
        INSERT INTO articles_fts(articles_fts, rowid, title, text)
            VALUES ('delete', old.id, old.title, old.text);
        INSERT INTO articles_fts(rowid, title, text) VALUES (new.id, new.title, new.text);
    END;
CREATE INDEX qa_turns_thread ON qa_turns(thread_id, id);
CREATE INDEX llm_calls_at ON llm_calls(at);
CREATE INDEX claim_checks_at ON claim_checks(at);
CREATE INDEX stories_last_seen ON stories(last_seen);
CREATE INDEX articles_story ON articles(story_id);
CREATE UNIQUE INDEX reprints_canonical_url ON reprints(canonical_url);
CREATE INDEX deliveries_pending ON deliveries(retry_at) WHERE status = 'pending';
PRAGMA writable_schema=OFF;
COMMIT;
PRAGMA user_version = 7;
