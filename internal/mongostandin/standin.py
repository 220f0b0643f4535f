#!/usr/bin/python3
"""A MongoDB wire-protocol stand-in for Roster's tests.

No MongoDB server can be installed on the machines Roster is developed and
tested on, so the store/mongo conformance run talks to this process instead:
Debian's python3-mockupdb speaks the wire protocol (OP_MSG and the legacy
OP_QUERY handshake) and python3-mongomock is the in-memory query engine.
This file only translates between the two, and maps mongomock's exceptions
to the error codes a real server sends.

What it is not: a database. There are no transactions (it answers like a
standalone mongod), no collation, no TTL expiry, no replication, no
authentication and no persistence (everything is lost on exit), and no
real concurrency: mockupdb handles one request at a time under one lock,
so every command is trivially atomic and isolated. writeConcern,
readConcern, readPreference and maxTimeMS are accepted and ignored;
collation, arrayFilters and pipeline updates are refused with
NotImplemented. Creating a new unique index with a partialFilterExpression
on a collection that already holds documents is checked by mongomock
without the filter. Tests that pass here show that Roster sends the right
commands and interprets the answers correctly; they show nothing about a
real server's behaviour under concurrent load, elections or failover.

Two pieces of mongomock and mockupdb are replaced, both marked: the
unique-index check (so a violation reports keyPattern and keyValue like a
real E11000) and mockupdb's logging of every message (which cost half the
time even with logging off).

Usage: standin.py [--port N] [--verbose] [--watch-stdin]
Prints the connection URI as the first line of stdout once it accepts
connections; exits on SIGTERM or SIGINT, and with --watch-stdin also when
stdin reaches EOF (the parent died or closed it).
"""

import argparse
import datetime
import os
import signal
import sys
import threading
import traceback
from collections import OrderedDict

import bson
from bson.int64 import Int64
import mockupdb
import mongomock
from mongomock import filtering, helpers
from mongomock.collection import Collection
from pymongo.errors import DuplicateKeyError, OperationFailure, WriteError

# Wire version 17 is MongoDB 6.0: inside the range Go driver v2 accepts, and
# old enough that the driver uses no feature this stand-in lacks.
MAX_WIRE_VERSION = 17
STANDIN_VERSION = '6.0.0-mongostandin'
FIRST_BATCH = 101  # a real server's default first batch
# A real server fills a getMore batch up to 16 MiB; counting documents is
# enough for test data and spares encoding every document twice.
MAX_BATCH = 1000

# Error codes of the real server (src/mongo/base/error_codes.yml).
INTERNAL_ERROR = 1
BAD_VALUE = 2
FAILED_TO_PARSE = 9
ILLEGAL_OPERATION = 20
NAMESPACE_NOT_FOUND = 26
CURSOR_NOT_FOUND = 43
COMMAND_NOT_FOUND = 59
IMMUTABLE_FIELD = 66
INDEX_OPTIONS_CONFLICT = 85
NOT_IMPLEMENTED = 238
DUPLICATE_KEY = 11000

CODE_NAMES = {
    INTERNAL_ERROR: 'InternalError',
    BAD_VALUE: 'BadValue',
    FAILED_TO_PARSE: 'FailedToParse',
    ILLEGAL_OPERATION: 'IllegalOperation',
    NAMESPACE_NOT_FOUND: 'NamespaceNotFound',
    CURSOR_NOT_FOUND: 'CursorNotFound',
    COMMAND_NOT_FOUND: 'CommandNotFound',
    IMMUTABLE_FIELD: 'ImmutableField',
    INDEX_OPTIONS_CONFLICT: 'IndexOptionsConflict',
    NOT_IMPLEMENTED: 'NotImplemented',
    DUPLICATE_KEY: 'DuplicateKey',
}


class CommandError(Exception):
    def __init__(self, code, msg, extra=None):
        super().__init__(msg)
        self.code = code
        self.extra = extra or {}


def _ensure_uniques(self, new_data):
    """Replaces mongomock's unique-index check (called with new_data already
    stored) so a violation names its index, keyPattern and keyValue like a
    real server's E11000 does; Roster maps keyPattern to the attribute its
    ErrConflict names. Also honours partialFilterExpression for the new
    document itself, which mongomock only applies to the other side."""
    for name, index in self._store.indexes.items():
        if not index.get('unique'):
            continue
        pfe = index.get('partialFilterExpression')
        if pfe is not None and not filtering.filter_applies(pfe, new_data):
            continue
        key_value = OrderedDict()
        for key, _ in index['key']:
            try:
                key_value[key] = helpers.get_value_by_dot(new_data, key)
            except KeyError:
                key_value[key] = None
        if index.get('sparse') and all(v is None for v in key_value.values()):
            continue
        query = dict(key_value)
        if pfe is not None:
            query = {'$and': [pfe, query]}
        if len(list(self._iter_documents(query))) > 1:
            raise DuplicateKeyError(
                'E11000 duplicate key error collection: %s index: %s dup key: %s'
                % (self.full_name, name, bson.json_util.dumps(key_value)),
                DUPLICATE_KEY,
                {'keyPattern': OrderedDict(index['key']), 'keyValue': key_value})


Collection._ensure_uniques = _ensure_uniques


def error_doc(exc):
    """The fields a real server puts in an error reply or a writeErrors entry."""
    if isinstance(exc, CommandError):
        code, msg, extra = exc.code, str(exc), exc.extra
    elif isinstance(exc, DuplicateKeyError):
        code, msg, extra = DUPLICATE_KEY, str(exc), {}
        details = exc.details or {}
        for k in ('keyPattern', 'keyValue'):
            if k in details:
                extra[k] = details[k]
    elif isinstance(exc, NotImplementedError):
        code, msg, extra = NOT_IMPLEMENTED, 'not implemented by the stand-in (mongomock): %s' % exc, {}
    elif isinstance(exc, WriteError):
        code = exc.code or BAD_VALUE
        if "'_id' was found to have been altered" in str(exc):
            code = IMMUTABLE_FIELD
        msg, extra = str(exc), {}
    elif isinstance(exc, OperationFailure):
        code = exc.code or BAD_VALUE
        msg, extra = str(exc), {}
        if 'already exists with different options' in msg:
            code = INDEX_OPTIONS_CONFLICT
    elif isinstance(exc, (ValueError, TypeError, KeyError)):
        code, msg, extra = BAD_VALUE, '%s: %s' % (type(exc).__name__, exc), {}
    else:
        code, msg, extra = INTERNAL_ERROR, '%s: %s' % (type(exc).__name__, exc), {}
    doc = OrderedDict([('code', code), ('codeName', CODE_NAMES.get(code, 'UnknownError')), ('errmsg', msg)])
    doc.update(extra)
    return doc


class Standin:
    def __init__(self):
        self.client = mongomock.MongoClient()
        self.cursors = {}
        self.next_cursor = 1000
        self.connection_ids = 0

    # --- helpers ---------------------------------------------------------

    def coll(self, db, name):
        if not isinstance(name, str) or not name:
            raise CommandError(BAD_VALUE, 'collection name must be a non-empty string')
        return self.client[db][name]

    def cursor_reply(self, db, coll, docs, batch_size=0, single_batch=False):
        ns = '%s.%s' % (db, coll)
        batch, rest = self.take(docs, batch_size or FIRST_BATCH)
        cursor_id = 0
        if rest and not single_batch:
            self.next_cursor += 1
            cursor_id = self.next_cursor
            self.cursors[cursor_id] = (ns, rest)
        return {'cursor': OrderedDict([('id', Int64(cursor_id)), ('ns', ns), ('firstBatch', batch)]), 'ok': 1}

    @staticmethod
    def take(docs, n):
        n = min(n or MAX_BATCH, MAX_BATCH)
        return docs[:n], docs[n:]

    @staticmethod
    def reject_unsupported(cmd):
        if 'collation' in cmd:
            raise CommandError(NOT_IMPLEMENTED, 'the stand-in has no collation support')
        if cmd.get('startTransaction') or 'autocommit' in cmd:
            # What a standalone mongod answers: transactions need a replica set.
            raise CommandError(ILLEGAL_OPERATION,
                               'Transaction numbers are only allowed on a replica set member or mongos')

    # --- commands ----------------------------------------------------------

    def hello(self, db, cmd):
        self.connection_ids += 1
        doc = OrderedDict([
            ('isWritablePrimary', True), ('ismaster', True),
            ('maxBsonObjectSize', 16 * 1024 * 1024),
            ('maxMessageSizeBytes', 48000000),
            ('maxWriteBatchSize', 100000),
            ('localTime', datetime.datetime.now(datetime.timezone.utc)),
            ('logicalSessionTimeoutMinutes', 30),
            ('connectionId', self.connection_ids),
            ('minWireVersion', 0), ('maxWireVersion', MAX_WIRE_VERSION),
            ('readOnly', False), ('ok', 1),
        ])
        if cmd.get('helloOk'):
            doc['helloOk'] = True
        return doc

    def build_info(self, db, cmd):
        return {'version': STANDIN_VERSION, 'versionArray': [6, 0, 0, 0], 'ok': 1}

    def ok(self, db, cmd):
        return {'ok': 1}

    def insert(self, db, cmd):
        coll = self.coll(db, cmd['insert'])
        ordered = cmd.get('ordered', True)
        n, errors = 0, []
        for i, doc in enumerate(cmd.get('documents', [])):
            try:
                if '_id' in doc and coll.find_one({'_id': doc['_id']}, {'_id': 1}) is not None:
                    raise DuplicateKeyError(
                        'E11000 duplicate key error collection: %s index: _id_ dup key: %s'
                        % (coll.full_name, bson.json_util.dumps({'_id': doc['_id']})),
                        DUPLICATE_KEY, {'keyPattern': {'_id': 1}, 'keyValue': {'_id': doc['_id']}})
                coll.insert_one(doc)
                n += 1
            except Exception as exc:  # noqa: BLE001 - every failure is one write error
                err = OrderedDict([('index', i)])
                err.update(error_doc(exc))
                errors.append(err)
                if ordered:
                    break
        reply = OrderedDict([('n', n)])
        if errors:
            reply['writeErrors'] = errors
        reply['ok'] = 1
        return reply

    def update(self, db, cmd):
        coll = self.coll(db, cmd['update'])
        ordered = cmd.get('ordered', True)
        n = modified = 0
        upserted, errors = [], []
        for i, op in enumerate(cmd.get('updates', [])):
            try:
                self.reject_unsupported(op)
                q, u = op.get('q', {}), op['u']
                upsert, multi = op.get('upsert', False), op.get('multi', False)
                array_filters = op.get('arrayFilters')
                if isinstance(u, list):
                    raise CommandError(NOT_IMPLEMENTED, 'the stand-in has no pipeline updates')
                if u and not any(k.startswith('$') for k in u):
                    if multi:
                        raise CommandError(FAILED_TO_PARSE, 'multi update is not supported for replacement-style update')
                    res = coll.replace_one(q, u, upsert=upsert)
                elif multi:
                    res = coll.update_many(q, u, upsert=upsert, array_filters=array_filters)
                else:
                    res = coll.update_one(q, u, upsert=upsert, array_filters=array_filters)
                if res.upserted_id is not None:
                    n += 1
                    upserted.append(OrderedDict([('index', i), ('_id', res.upserted_id)]))
                else:
                    n += res.matched_count
                    modified += res.modified_count
            except Exception as exc:  # noqa: BLE001
                err = OrderedDict([('index', i)])
                err.update(error_doc(exc))
                errors.append(err)
                if ordered:
                    break
        reply = OrderedDict([('n', n), ('nModified', modified)])
        if upserted:
            reply['upserted'] = upserted
        if errors:
            reply['writeErrors'] = errors
        reply['ok'] = 1
        return reply

    def delete(self, db, cmd):
        coll = self.coll(db, cmd['delete'])
        ordered = cmd.get('ordered', True)
        n, errors = 0, []
        for i, op in enumerate(cmd.get('deletes', [])):
            try:
                self.reject_unsupported(op)
                if op.get('limit', 0) == 1:
                    n += coll.delete_one(op.get('q', {})).deleted_count
                else:
                    n += coll.delete_many(op.get('q', {})).deleted_count
            except Exception as exc:  # noqa: BLE001
                err = OrderedDict([('index', i)])
                err.update(error_doc(exc))
                errors.append(err)
                if ordered:
                    break
        reply = OrderedDict([('n', n)])
        if errors:
            reply['writeErrors'] = errors
        reply['ok'] = 1
        return reply

    def find(self, db, cmd):
        name = cmd['find']
        coll = self.coll(db, name)
        sort = list((cmd.get('sort') or {}).items()) or None
        limit = cmd.get('limit', 0)
        single = cmd.get('singleBatch', False) or limit < 0
        limit = abs(limit)
        docs = list(coll.find(cmd.get('filter') or {}, projection=cmd.get('projection') or None,
                              skip=cmd.get('skip', 0), limit=limit, sort=sort))
        batch = cmd.get('batchSize', 0)
        if single and limit:
            batch = limit
        return self.cursor_reply(db, name, docs, batch, single)

    def get_more(self, db, cmd):
        cursor_id = int(cmd['getMore'])
        entry = self.cursors.pop(cursor_id, None)
        if entry is None:
            raise CommandError(CURSOR_NOT_FOUND, 'cursor id %d not found' % cursor_id)
        ns, docs = entry
        batch, rest = self.take(docs, cmd.get('batchSize', 0))
        if rest:
            self.cursors[cursor_id] = (ns, rest)
        else:
            cursor_id = 0
        return {'cursor': OrderedDict([('id', Int64(cursor_id)), ('ns', ns), ('nextBatch', batch)]), 'ok': 1}

    def kill_cursors(self, db, cmd):
        killed, missing = [], []
        for cid in cmd.get('cursors', []):
            (killed if self.cursors.pop(int(cid), None) is not None else missing).append(cid)
        return {'cursorsKilled': killed, 'cursorsNotFound': missing, 'cursorsAlive': [],
                'cursorsUnknown': [], 'ok': 1}

    def find_and_modify(self, db, cmd):
        coll = self.coll(db, cmd.get('findAndModify') or cmd.get('findandmodify'))
        self.reject_unsupported(cmd)
        if cmd.get('arrayFilters'):
            raise CommandError(NOT_IMPLEMENTED, 'the stand-in has no arrayFilters')
        query = cmd.get('query') or {}
        sort = list((cmd.get('sort') or {}).items()) or None
        fields = cmd.get('fields') or None
        update = cmd.get('update')
        remove = cmd.get('remove', False)
        if remove == bool(update is not None):
            raise CommandError(FAILED_TO_PARSE, 'Either an update or remove=true must be specified')
        if isinstance(update, list):
            raise CommandError(NOT_IMPLEMENTED, 'the stand-in has no pipeline updates')
        # The stand-in runs one command at a time, so finding the document
        # and then changing it by _id is atomic here.
        old = coll.find_one(query, sort=sort)
        last = OrderedDict([('n', 0)])
        value = None
        if remove:
            if old is not None:
                value = coll.find_one({'_id': old['_id']}, projection=fields)
                coll.delete_one({'_id': old['_id']})
                last['n'] = 1
        else:
            replacement = update and not any(k.startswith('$') for k in update)
            if old is not None:
                before = coll.find_one({'_id': old['_id']}, projection=fields)
                if replacement:
                    coll.replace_one({'_id': old['_id']}, update)
                else:
                    coll.update_one({'_id': old['_id']}, update)
                last.update(n=1, updatedExisting=True)
                value = coll.find_one({'_id': old['_id']}, projection=fields) if cmd.get('new') else before
            elif cmd.get('upsert'):
                if replacement:
                    res = coll.replace_one(query, update, upsert=True)
                else:
                    res = coll.update_one(query, update, upsert=True)
                last.update(n=1, updatedExisting=False, upserted=res.upserted_id)
                if cmd.get('new'):
                    value = coll.find_one({'_id': res.upserted_id}, projection=fields)
        return OrderedDict([('lastErrorObject', last), ('value', value), ('ok', 1)])

    def aggregate(self, db, cmd):
        name = cmd['aggregate']
        if not isinstance(name, str):
            raise CommandError(NOT_IMPLEMENTED, 'the stand-in has no database-level aggregate')
        self.reject_unsupported(cmd)
        coll = self.coll(db, name)
        pipeline = cmd.get('pipeline', [])
        n = self.counting(coll, pipeline)
        if n is not None:
            docs = [OrderedDict([('_id', 1), ('n', n)])] if n else []
        else:
            docs = list(coll.aggregate(pipeline))
        return self.cursor_reply(db, name, docs, (cmd.get('cursor') or {}).get('batchSize', 0))

    @staticmethod
    def counting(coll, pipeline):
        """The count of a countDocuments pipeline ($match, $skip?, $limit?,
        $group {_id: 1, n: {$sum: 1}}), or None for any other pipeline.
        mongomock's aggregate copies the whole collection first; its
        count_documents does not."""
        if len(pipeline) < 2 or list(pipeline[0]) != ['$match'] or list(pipeline[-1]) != ['$group']:
            return None
        if pipeline[-1]['$group'] != {'_id': 1, 'n': {'$sum': 1}}:
            return None
        kwargs = {}
        for stage in pipeline[1:-1]:
            (op, v), = stage.items()
            if op not in ('$skip', '$limit') or op[1:] in kwargs:
                return None
            kwargs[op[1:]] = v
        return coll.count_documents(pipeline[0]['$match'], **kwargs)

    def count(self, db, cmd):
        coll = self.coll(db, cmd['count'])
        kwargs = {}
        if cmd.get('skip'):
            kwargs['skip'] = cmd['skip']
        if cmd.get('limit'):
            kwargs['limit'] = abs(cmd['limit'])
        return {'n': coll.count_documents(cmd.get('query') or {}, **kwargs), 'ok': 1}

    def distinct(self, db, cmd):
        coll = self.coll(db, cmd['distinct'])
        return {'values': coll.distinct(cmd['key'], cmd.get('query') or {}), 'ok': 1}

    def create_indexes(self, db, cmd):
        coll = self.coll(db, cmd['createIndexes'])
        before = len(coll.index_information()) if cmd['createIndexes'] in self.client[db].list_collection_names() else 1
        existing = coll.index_information() if before > 1 or cmd['createIndexes'] in self.client[db].list_collection_names() else {}
        for spec in cmd.get('indexes', []):
            have = existing.get(spec.get('name'))
            if have is not None:
                # Like a real server: the same index again is a no-op (no
                # re-check of the data), the same name with other options
                # an error.
                if self.same_index(have, spec):
                    continue
                raise CommandError(INDEX_OPTIONS_CONFLICT,
                                   'An existing index has the same name as the requested index: %s' % spec.get('name'))
            unknown = set(spec) - {'key', 'name', 'unique', 'sparse', 'partialFilterExpression',
                                   'expireAfterSeconds', 'background', 'v'}
            if unknown:
                raise CommandError(NOT_IMPLEMENTED, 'the stand-in has no index option %s' % sorted(unknown))
            kwargs = {'name': spec['name'], 'unique': spec.get('unique', False),
                      'sparse': spec.get('sparse', False)}
            for opt in ('partialFilterExpression', 'expireAfterSeconds'):
                if opt in spec:
                    kwargs[opt] = spec[opt]
            # create_index, not create_indexes: mongomock's create_indexes
            # drops partialFilterExpression.
            coll.create_index(list(spec['key'].items()), **kwargs)
        after = len(coll.index_information())
        return {'numIndexesBefore': before, 'numIndexesAfter': after, 'ok': 1}

    @staticmethod
    def same_index(have, spec):
        return (list(have['key']) == list(spec['key'].items())
                and bool(have.get('unique')) == bool(spec.get('unique'))
                and bool(have.get('sparse')) == bool(spec.get('sparse'))
                and have.get('partialFilterExpression') == spec.get('partialFilterExpression')
                and have.get('expireAfterSeconds') == spec.get('expireAfterSeconds'))

    def list_indexes(self, db, cmd):
        name = cmd['listIndexes']
        if name not in self.client[db].list_collection_names():
            raise CommandError(NAMESPACE_NOT_FOUND, 'ns does not exist: %s.%s' % (db, name))
        out = []
        for idx_name, info in self.coll(db, name).index_information().items():
            spec = OrderedDict([('v', 2), ('key', OrderedDict(info['key'])), ('name', idx_name)])
            for opt in ('unique', 'sparse', 'partialFilterExpression', 'expireAfterSeconds'):
                if opt in info:
                    spec[opt] = info[opt]
            out.append(spec)
        return self.cursor_reply(db, name, out, (cmd.get('cursor') or {}).get('batchSize', 0))

    def list_collections(self, db, cmd):
        names = self.client[db].list_collection_names()
        flt = cmd.get('filter') or {}
        out = [OrderedDict([('name', n), ('type', 'collection'), ('options', {}),
                            ('info', {'readOnly': False})]) for n in names]
        out = [d for d in out if filtering.filter_applies(flt, d)]
        if cmd.get('nameOnly'):
            out = [OrderedDict([('name', d['name']), ('type', 'collection')]) for d in out]
        return self.cursor_reply(db, '$cmd.listCollections', out, (cmd.get('cursor') or {}).get('batchSize', 0))

    def drop(self, db, cmd):
        self.client[db].drop_collection(cmd['drop'])
        return {'ok': 1}

    def drop_database(self, db, cmd):
        self.client.drop_database(db)
        return {'ok': 1}

    COMMANDS = {
        'hello': hello, 'ismaster': hello,
        'buildinfo': build_info,
        'ping': ok, 'endsessions': ok,
        'insert': insert, 'update': update, 'delete': delete,
        'find': find, 'getmore': get_more, 'killcursors': kill_cursors,
        'findandmodify': find_and_modify, 'aggregate': aggregate,
        'count': count, 'distinct': distinct,
        'createindexes': create_indexes, 'listindexes': list_indexes,
        'listcollections': list_collections,
        'drop': drop, 'dropdatabase': drop_database,
    }

    def dispatch(self, db, cmd):
        name = next(iter(cmd), '')
        fn = self.COMMANDS.get(name.lower())
        if fn is None:
            raise CommandError(COMMAND_NOT_FOUND, "no such command: '%s'" % name)
        if name.lower() not in ('hello', 'ismaster', 'ping', 'endsessions', 'buildinfo'):
            self.reject_unsupported(cmd)
        return fn(self, db, cmd)

    def handle(self, request):
        """mockupdb responder: answers every request and never raises, since
        an exception would kill the connection's thread and hang the client."""
        try:
            reply = self.dispatch(request.namespace, request.doc)
        except Exception as exc:  # noqa: BLE001
            if VERBOSE and not isinstance(exc, (CommandError, OperationFailure)):
                traceback.print_exc(file=sys.stderr)
            reply = OrderedDict([('ok', 0)])
            reply.update(error_doc(exc))
        if VERBOSE:
            print('%r -> %s' % (request, bson.json_util.dumps(reply)[:2000]), file=sys.stderr)
        if request.flags and request.flags & mockupdb.OP_MSG_FLAGS['moreToCome']:
            return True  # unacknowledged write: the client reads no reply
        request.replies(reply)
        return True


VERBOSE = False


def quiet_mockupdb():
    """mockupdb renders every request and reply for its log, as JSON, even
    when logging is off; that took half the stand-in's time. Without
    --verbose the log is off, so the renderings need not be exact."""
    def brief(self):
        return self.__class__.__name__
    for cls in (mockupdb.Request, mockupdb.OpMsgReply, mockupdb.OpReply):
        cls.__repr__ = brief


def main():
    global VERBOSE
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--port', type=int, default=0)
    ap.add_argument('--verbose', action='store_true', help='log every command to stderr')
    ap.add_argument('--watch-stdin', action='store_true',
                    help='exit when stdin reaches EOF (how a parent process ties our life to its own)')
    args = ap.parse_args()
    VERBOSE = args.verbose
    if not VERBOSE:
        quiet_mockupdb()

    standin = Standin()
    server = mockupdb.MockupDB(port=args.port, request_timeout=int(1e6))
    # MockupDB binds "localhost"; say 127.0.0.1 so no resolver can pick ::1.
    server._address = ('127.0.0.1', args.port)
    server.autoresponds(standin.handle)
    port = server.run()
    print('mongodb://127.0.0.1:%d/' % port, flush=True)

    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())

    def watch_stdin():
        try:
            while sys.stdin.buffer.read(4096):
                pass
        except OSError:
            pass
        done.set()

    if args.watch_stdin:
        threading.Thread(target=watch_stdin, daemon=True).start()
    while not done.wait(1):
        pass
    server.stop()
    os._exit(0)  # mockupdb's connection threads may still block in recv


if __name__ == '__main__':
    main()
