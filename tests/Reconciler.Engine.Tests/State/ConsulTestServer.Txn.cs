using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;

namespace Reconciler.Engine.Tests.State;

public sealed partial class ConsulTestServer
{
    private void Txn(HttpContext ctx, byte[] body, AclRules? acl)
    {
        // agent/txn_endpoint.go convertOps: the whole body is capped at txn_max_req_len (512 KiB by default), base64 and JSON included.
        if (body.Length > MaxTxnRequestLength) { WriteText(ctx, 413, $"Request body too large, max size: {MaxTxnRequestLength} bytes"); return; }
        var ops = JsonNode.Parse(body)!.AsArray();
        if (ops.Count > 64) { WriteText(ctx, 413, $"Transaction contains too many operations ({ops.Count} > 64)"); return; }
        var parsed = ops.Select(o => o!["KV"]!).Select(kv => (
            Verb: (string)kv["Verb"]!, Key: (string)kv["Key"]!,
            Value: kv["Value"] is { } v ? Convert.FromBase64String((string)v!) : [],
            Index: kv["Index"] is { } ix ? (ulong)ix : 0,
            Flags: kv["Flags"] is { } fl ? (ulong)fl : 0)).ToList();
        foreach (var op in parsed)
            if (op.Value.Length > MaxValueSize) { WriteText(ctx, 413, $"Value for key \"{op.Key}\" is too large ({op.Value.Length} > {MaxValueSize} bytes)"); return; }

        // agent/consul/txn_endpoint.go preCheck (kvsPreApply): every op is checked against the token before anything runs;
        // gets are not (their results are filtered afterwards), check-index and check-session need key:read, everything else
        // key:write (check-not-exists included: it falls to the default case).
        var denied = parsed.Select((op, n) => (op, n))
            .Where(x => x.op.Verb switch
            {
                "get" or "get-tree" => false,
                "check-index" or "check-session" => !CanRead(acl, x.op.Key),
                _ => !CanWrite(acl, x.op.Key),
            })
            .Select(x => new JsonObject { ["OpIndex"] = x.n, ["What"] = "Permission denied" }).ToList();
        if (denied.Count > 0) { WriteJson(ctx, 409, new JsonObject { ["Results"] = null, ["Errors"] = new JsonArray([.. denied]) }); return; }

        lock (_gate)
        {
            // Work on a copy; commit only if every operation succeeds (all or nothing), with one index for all writes.
            var work = new SortedDictionary<string, Entry>(_kv.ToDictionary(k => k.Key, k => k.Value.Clone()), StringComparer.Ordinal);
            var idx = _index + 1;
            var results = new JsonArray();
            var errors = new JsonArray();
            var deleted = new List<string>();
            for (var n = 0; n < parsed.Count; n++)
            {
                var (verb, key, value, index, flags) = parsed[n];
                work.TryGetValue(key, out var e);
                string? error = null;
                switch (verb)
                {
                    case "set":
                    case "cas":
                        if (verb == "cas" && (index == 0 ? e is not null : e is null || e.ModifyIndex != index))
                        {
                            error = $"failed to set key \"{key}\", index is stale";
                            break;
                        }
                        e = Set(work, key, value, flags, e?.Session, idx, e?.LockIndex ?? 0);
                        results.Add(new JsonObject { ["KV"] = ToJson(e, withValue: false) });
                        break;
                    case "get":
                        if (e is null) error = $"key \"{key}\" doesn't exist";
                        else results.Add(new JsonObject { ["KV"] = ToJson(e, withValue: true) });
                        break;
                    case "get-tree":
                        foreach (var t in work.Values.Where(x => x.Key.StartsWith(key, StringComparison.Ordinal)))
                            results.Add(new JsonObject { ["KV"] = ToJson(t, withValue: true) });
                        break;
                    case "check-index":
                        if (e is null) error = $"failed to check index, key \"{key}\" doesn't exist";
                        else if (e.ModifyIndex != index) error = $"failed index check for key \"{key}\", current modify index {e.ModifyIndex} != {index}";
                        break;
                    case "check-not-exists":
                        if (e is not null) error = $"key \"{key}\" exists";
                        break;
                    case "delete":
                        if (work.Remove(key)) deleted.Add(key);
                        break;
                    case "delete-cas":
                        if (e is not null && e.ModifyIndex != index) error = $"failed to delete key \"{key}\", index is stale";
                        else if (work.Remove(key)) deleted.Add(key);
                        break;
                    default:
                        error = $"unknown KV verb \"{verb}\"";
                        break;
                }
                if (error is not null) errors.Add(new JsonObject { ["OpIndex"] = n, ["What"] = error });
            }
            if (errors.Count > 0) { WriteJson(ctx, 409, new JsonObject { ["Results"] = null, ["Errors"] = errors }); return; }
            // FilterTxnResults: results the token may not read are dropped without a word (no error, no header).
            var visible = new JsonArray([.. results.Where(r => CanRead(acl, (string)r!["KV"]!["Key"]!)).Select(r => r!.DeepClone())]);
            if (deleted.Count > 0 || work.Values.Any(e => e.ModifyIndex == idx))
            {
                _index = idx;
                _kv = work;
                foreach (var k in deleted) _tombstones[k] = idx;
                Changed();
            }
            WriteJson(ctx, 200, new JsonObject { ["Results"] = visible, ["Errors"] = null });
        }
    }
}
