-- Written by the real OpenCode 1.18.33 (scripts/capture_opencode.py); tables session, message, part, event.
CREATE TABLE `event` (
          `id` text PRIMARY KEY,
          `aggregate_id` text NOT NULL,
          `seq` integer NOT NULL,
          `type` text NOT NULL,
          `data` text NOT NULL,
          CONSTRAINT `fk_event_aggregate_id_event_sequence_aggregate_id_fk` FOREIGN KEY (`aggregate_id`) REFERENCES `event_sequence`(`aggregate_id`) ON DELETE CASCADE
        );
INSERT INTO "event" VALUES('evt_240a49aa5001HZSrXCVedjsEnC','ses_dbf5b655bffeKCdMgW3mnhURMg',0,'session.created.1','{"sessionID":"ses_dbf5b655bffeKCdMgW3mnhURMg","info":{"id":"ses_dbf5b655bffeKCdMgW3mnhURMg","slug":"brave-knight","projectID":"global","directory":"/tmp/tmpzn1yzz8s/acme-api","path":"tmp/tmpzn1yzz8s/acme-api","cost":0,"tokens":{"input":0,"output":0,"reasoning":0,"cache":{"read":0,"write":0}},"title":"New session - 2026-12-04T10:40:59.045Z","version":"1.18.33","time":{"created":1796380859045,"updated":1796380859045}}}');
INSERT INTO "event" VALUES('evt_240a49af4001tS9FsUTkvCwqsW','ses_dbf5b655bffeKCdMgW3mnhURMg',1,'session.updated.1','{"sessionID":"ses_dbf5b655bffeKCdMgW3mnhURMg","info":{"id":"ses_dbf5b655bffeKCdMgW3mnhURMg","slug":"brave-knight","projectID":"global","directory":"/tmp/tmpzn1yzz8s/acme-api","path":"tmp/tmpzn1yzz8s/acme-api","cost":0,"tokens":{"input":0,"output":0,"reasoning":0,"cache":{"read":0,"write":0}},"title":"New session - 2026-12-04T10:40:59.045Z","agent":"build","model":{"id":"m","providerID":"scripted","variant":"default"},"version":"1.18.33","time":{"created":1796380859045,"updated":1796380859122}}}');
INSERT INTO "event" VALUES('evt_240a49afb001OIDmpZ5Xq4gOvA','ses_dbf5b655bffeKCdMgW3mnhURMg',2,'message.updated.1','{"sessionID":"ses_dbf5b655bffeKCdMgW3mnhURMg","info":{"id":"msg_240a49af2001HFfKCk4VekY2pV","sessionID":"ses_dbf5b655bffeKCdMgW3mnhURMg","role":"user","time":{"created":1796380859122},"agent":"build","model":{"providerID":"scripted","modelID":"m"}}}');
INSERT INTO "event" VALUES('evt_240a49eeb001xXfBBRW3FZGeMr','ses_dbf5b655bffeKCdMgW3mnhURMg',3,'message.part.updated.1','{"sessionID":"ses_dbf5b655bffeKCdMgW3mnhURMg","part":{"id":"prt_240a49afa001Nk24RMXpEqYlO1","sessionID":"ses_dbf5b655bffeKCdMgW3mnhURMg","messageID":"msg_240a49af2001HFfKCk4VekY2pV","type":"text","text":"run the slow test suite"},"time":1796380860138}');
INSERT INTO "event" VALUES('evt_240a49ef4001e4PTsc563EmBUI','ses_dbf5b655bffeKCdMgW3mnhURMg',4,'session.updated.1','{"sessionID":"ses_dbf5b655bffeKCdMgW3mnhURMg","info":{"id":"ses_dbf5b655bffeKCdMgW3mnhURMg","slug":"brave-knight","projectID":"global","directory":"/tmp/tmpzn1yzz8s/acme-api","path":"tmp/tmpzn1yzz8s/acme-api","cost":0,"tokens":{"input":0,"output":0,"reasoning":0,"cache":{"read":0,"write":0}},"title":"New session - 2026-12-04T10:40:59.045Z","agent":"build","model":{"id":"m","providerID":"scripted","variant":"default"},"version":"1.18.33","time":{"created":1796380859045,"updated":1796380860147}}}');
INSERT INTO "event" VALUES('evt_240a49f05001N6x4DX2yuvypch','ses_dbf5b655bffeKCdMgW3mnhURMg',5,'message.updated.1','{"sessionID":"ses_dbf5b655bffeKCdMgW3mnhURMg","info":{"id":"msg_240a49f05001fKvEnbDdEuckB9","sessionID":"ses_dbf5b655bffeKCdMgW3mnhURMg","role":"assistant","time":{"created":1796380860165},"parentID":"msg_240a49af2001HFfKCk4VekY2pV","modelID":"m","providerID":"scripted","mode":"build","agent":"build","path":{"cwd":"/tmp/tmpzn1yzz8s/acme-api","root":"/"},"cost":0,"tokens":{"input":0,"output":0,"reasoning":0,"cache":{"read":0,"write":0}}}}');
INSERT INTO "event" VALUES('evt_240a49f480017QjPQWWNlu7sRe','ses_dbf5b655bffeKCdMgW3mnhURMg',6,'session.updated.1','{"sessionID":"ses_dbf5b655bffeKCdMgW3mnhURMg","info":{"id":"ses_dbf5b655bffeKCdMgW3mnhURMg","slug":"brave-knight","projectID":"global","directory":"/tmp/tmpzn1yzz8s/acme-api","path":"tmp/tmpzn1yzz8s/acme-api","summary":{"additions":0,"deletions":0,"files":0},"cost":0,"tokens":{"input":0,"output":0,"reasoning":0,"cache":{"read":0,"write":0}},"title":"New session - 2026-12-04T10:40:59.045Z","agent":"build","model":{"id":"m","providerID":"scripted","variant":"default"},"version":"1.18.33","time":{"created":1796380859045,"updated":1796380860230}}}');
INSERT INTO "event" VALUES('evt_240a49f50001s0pZtRZb3e7kEz','ses_dbf5b655bffeKCdMgW3mnhURMg',7,'message.updated.1','{"sessionID":"ses_dbf5b655bffeKCdMgW3mnhURMg","info":{"id":"msg_240a49af2001HFfKCk4VekY2pV","sessionID":"ses_dbf5b655bffeKCdMgW3mnhURMg","role":"user","time":{"created":1796380859122},"summary":{"diffs":[]},"agent":"build","model":{"providerID":"scripted","modelID":"m"}}}');
INSERT INTO "event" VALUES('evt_240a49fad001nbtOEbi2y55aph','ses_dbf5b655bffeKCdMgW3mnhURMg',8,'session.updated.1','{"sessionID":"ses_dbf5b655bffeKCdMgW3mnhURMg","info":{"id":"ses_dbf5b655bffeKCdMgW3mnhURMg","slug":"brave-knight","projectID":"global","directory":"/tmp/tmpzn1yzz8s/acme-api","path":"tmp/tmpzn1yzz8s/acme-api","summary":{"additions":0,"deletions":0,"files":0},"cost":0,"tokens":{"input":0,"output":0,"reasoning":0,"cache":{"read":0,"write":0}},"title":"Run the scripted command","agent":"build","model":{"id":"m","providerID":"scripted","variant":"default"},"version":"1.18.33","time":{"created":1796380859045,"updated":1796380860230}}}');
INSERT INTO "event" VALUES('evt_240a4a2d80019RmiqLrzK2UiV5','ses_dbf5b655bffeKCdMgW3mnhURMg',9,'message.part.updated.1','{"sessionID":"ses_dbf5b655bffeKCdMgW3mnhURMg","part":{"id":"prt_240a4a2d7001AGBegzJr5FeZb6","sessionID":"ses_dbf5b655bffeKCdMgW3mnhURMg","messageID":"msg_240a49f05001fKvEnbDdEuckB9","type":"step-start"},"time":1796380861143}');
INSERT INTO "event" VALUES('evt_240a4a2df001554Pjfcg1CIxoH','ses_dbf5b655bffeKCdMgW3mnhURMg',10,'message.part.updated.1','{"sessionID":"ses_dbf5b655bffeKCdMgW3mnhURMg","part":{"id":"prt_240a4a2df001pk0VTMgzdF9G0H","sessionID":"ses_dbf5b655bffeKCdMgW3mnhURMg","messageID":"msg_240a49f05001fKvEnbDdEuckB9","type":"text","text":"","time":{"start":1796380861151}},"time":1796380861151}');
INSERT INTO "event" VALUES('evt_240a4a2e8001NsbynBGjwP155u','ses_dbf5b655bffeKCdMgW3mnhURMg',11,'message.part.updated.1','{"sessionID":"ses_dbf5b655bffeKCdMgW3mnhURMg","part":{"id":"prt_240a4a2e8001Nmo7AFThqd5RAD","sessionID":"ses_dbf5b655bffeKCdMgW3mnhURMg","messageID":"msg_240a49f05001fKvEnbDdEuckB9","type":"tool","callID":"call_1","tool":"bash","state":{"status":"pending","input":{},"raw":""}},"time":1796380861160}');
INSERT INTO "event" VALUES('evt_240a4a2f4001NwDyDUbwaLE5ww','ses_dbf5b655bffeKCdMgW3mnhURMg',12,'message.part.updated.1','{"sessionID":"ses_dbf5b655bffeKCdMgW3mnhURMg","part":{"id":"prt_240a4a2e8001Nmo7AFThqd5RAD","sessionID":"ses_dbf5b655bffeKCdMgW3mnhURMg","messageID":"msg_240a49f05001fKvEnbDdEuckB9","type":"tool","callID":"call_1","tool":"bash","state":{"status":"running","input":{"command":"sleep 30; echo never","description":"scripted"},"time":{"start":1796380861172}}},"time":1796380861172}');
INSERT INTO "event" VALUES('evt_240a4a2fb001CGTEwL8BzYGF6w','ses_dbf5b655bffeKCdMgW3mnhURMg',13,'message.part.updated.1','{"sessionID":"ses_dbf5b655bffeKCdMgW3mnhURMg","part":{"id":"prt_240a4a2df001pk0VTMgzdF9G0H","sessionID":"ses_dbf5b655bffeKCdMgW3mnhURMg","messageID":"msg_240a49f05001fKvEnbDdEuckB9","type":"text","text":"Let me run it:","time":{"start":1796380861151,"end":1796380861179}},"time":1796380861179}');
INSERT INTO "event" VALUES('evt_240a4a344001sjHQJJSK7jrUiQ','ses_dbf5b655bffeKCdMgW3mnhURMg',14,'message.part.updated.1','{"sessionID":"ses_dbf5b655bffeKCdMgW3mnhURMg","part":{"id":"prt_240a4a2e8001Nmo7AFThqd5RAD","sessionID":"ses_dbf5b655bffeKCdMgW3mnhURMg","messageID":"msg_240a49f05001fKvEnbDdEuckB9","type":"tool","callID":"call_1","tool":"bash","state":{"status":"running","input":{"command":"sleep 30; echo never","description":"scripted"},"metadata":{"output":""},"time":{"start":1796380861172}}},"time":1796380861252}');
INSERT INTO "event" VALUES('evt_240a4b25b0014dLALF7KVkws6g','ses_dbf5b655bffeKCdMgW3mnhURMg',15,'message.part.updated.1','{"sessionID":"ses_dbf5b655bffeKCdMgW3mnhURMg","part":{"id":"prt_240a4a2e8001Nmo7AFThqd5RAD","sessionID":"ses_dbf5b655bffeKCdMgW3mnhURMg","messageID":"msg_240a49f05001fKvEnbDdEuckB9","type":"tool","callID":"call_1","tool":"bash","state":{"status":"completed","input":{"command":"sleep 30; echo never","description":"scripted"},"output":"(no output)\n\n<shell_metadata>\nUser aborted the command\n</shell_metadata>","title":"sleep 30; echo never","metadata":{"output":"(no output)\n\n<shell_metadata>\nUser aborted the command\n</shell_metadata>","exit":null,"truncated":false},"time":{"start":1796380861172,"end":1796380865114}}},"time":1796380865115}');
INSERT INTO "event" VALUES('evt_240a4b260001PUrcj9Jp8PTiyT','ses_dbf5b655bffeKCdMgW3mnhURMg',16,'message.updated.1','{"sessionID":"ses_dbf5b655bffeKCdMgW3mnhURMg","info":{"id":"msg_240a49f05001fKvEnbDdEuckB9","sessionID":"ses_dbf5b655bffeKCdMgW3mnhURMg","role":"assistant","time":{"created":1796380860165,"completed":1796380865120},"error":{"name":"MessageAbortedError","data":{"message":"Aborted"}},"parentID":"msg_240a49af2001HFfKCk4VekY2pV","modelID":"m","providerID":"scripted","mode":"build","agent":"build","path":{"cwd":"/tmp/tmpzn1yzz8s/acme-api","root":"/"},"cost":0,"tokens":{"input":0,"output":0,"reasoning":0,"cache":{"read":0,"write":0}}}}');
CREATE TABLE `message` (
          `id` text PRIMARY KEY,
          `session_id` text NOT NULL,
          `time_created` integer NOT NULL,
          `time_updated` integer NOT NULL,
          `data` text NOT NULL,
          CONSTRAINT `fk_message_session_id_session_id_fk` FOREIGN KEY (`session_id`) REFERENCES `session`(`id`) ON DELETE CASCADE
        );
INSERT INTO "message" VALUES('msg_240a49af2001HFfKCk4VekY2pV','ses_dbf5b655bffeKCdMgW3mnhURMg',1796380859122,1796380860242,'{"role":"user","time":{"created":1796380859122},"agent":"build","model":{"providerID":"scripted","modelID":"m"},"summary":{"diffs":[]}}');
INSERT INTO "message" VALUES('msg_240a49f05001fKvEnbDdEuckB9','ses_dbf5b655bffeKCdMgW3mnhURMg',1796380860165,1796380865122,'{"parentID":"msg_240a49af2001HFfKCk4VekY2pV","role":"assistant","mode":"build","agent":"build","path":{"cwd":"/tmp/tmpzn1yzz8s/acme-api","root":"/"},"cost":0,"tokens":{"input":0,"output":0,"reasoning":0,"cache":{"read":0,"write":0}},"modelID":"m","providerID":"scripted","time":{"created":1796380860165,"completed":1796380865120},"error":{"name":"MessageAbortedError","data":{"message":"Aborted"}}}');
CREATE TABLE `part` (
          `id` text PRIMARY KEY,
          `message_id` text NOT NULL,
          `session_id` text NOT NULL,
          `time_created` integer NOT NULL,
          `time_updated` integer NOT NULL,
          `data` text NOT NULL,
          CONSTRAINT `fk_part_message_id_message_id_fk` FOREIGN KEY (`message_id`) REFERENCES `message`(`id`) ON DELETE CASCADE
        );
INSERT INTO "part" VALUES('prt_240a49afa001Nk24RMXpEqYlO1','msg_240a49af2001HFfKCk4VekY2pV','ses_dbf5b655bffeKCdMgW3mnhURMg',1796380860138,1796380860143,'{"type":"text","text":"run the slow test suite"}');
INSERT INTO "part" VALUES('prt_240a4a2d7001AGBegzJr5FeZb6','msg_240a49f05001fKvEnbDdEuckB9','ses_dbf5b655bffeKCdMgW3mnhURMg',1796380861143,1796380861145,'{"type":"step-start"}');
INSERT INTO "part" VALUES('prt_240a4a2df001pk0VTMgzdF9G0H','msg_240a49f05001fKvEnbDdEuckB9','ses_dbf5b655bffeKCdMgW3mnhURMg',1796380861151,1796380861181,'{"type":"text","text":"Let me run it:","time":{"start":1796380861151,"end":1796380861179}}');
INSERT INTO "part" VALUES('prt_240a4a2e8001Nmo7AFThqd5RAD','msg_240a49f05001fKvEnbDdEuckB9','ses_dbf5b655bffeKCdMgW3mnhURMg',1796380861160,1796380865117,'{"type":"tool","tool":"bash","callID":"call_1","state":{"status":"completed","input":{"command":"sleep 30; echo never","description":"scripted"},"output":"(no output)\n\n<shell_metadata>\nUser aborted the command\n</shell_metadata>","metadata":{"output":"(no output)\n\n<shell_metadata>\nUser aborted the command\n</shell_metadata>","exit":null,"truncated":false},"title":"sleep 30; echo never","time":{"start":1796380861172,"end":1796380865114}}}');
CREATE TABLE `session` (
          `id` text PRIMARY KEY,
          `project_id` text NOT NULL,
          `workspace_id` text,
          `parent_id` text,
          `slug` text NOT NULL,
          `directory` text NOT NULL,
          `path` text,
          `title` text NOT NULL,
          `version` text NOT NULL,
          `share_url` text,
          `summary_additions` integer,
          `summary_deletions` integer,
          `summary_files` integer,
          `summary_diffs` text,
          `metadata` text,
          `cost` real DEFAULT 0 NOT NULL,
          `tokens_input` integer DEFAULT 0 NOT NULL,
          `tokens_output` integer DEFAULT 0 NOT NULL,
          `tokens_reasoning` integer DEFAULT 0 NOT NULL,
          `tokens_cache_read` integer DEFAULT 0 NOT NULL,
          `tokens_cache_write` integer DEFAULT 0 NOT NULL,
          `revert` text,
          `permission` text,
          `agent` text,
          `model` text,
          `time_created` integer NOT NULL,
          `time_updated` integer NOT NULL,
          `time_compacting` integer,
          `time_archived` integer,
          CONSTRAINT `fk_session_project_id_project_id_fk` FOREIGN KEY (`project_id`) REFERENCES `project`(`id`) ON DELETE CASCADE
        );
INSERT INTO "session" VALUES('ses_dbf5b655bffeKCdMgW3mnhURMg','global',NULL,NULL,'brave-knight','/tmp/tmpzn1yzz8s/acme-api','tmp/tmpzn1yzz8s/acme-api','Run the scripted command','1.18.33',NULL,0,0,0,NULL,NULL,0.0,0,0,0,0,0,NULL,NULL,'build','{"id":"m","providerID":"scripted","variant":"default"}',1796380859045,1796380860230,NULL,NULL);
