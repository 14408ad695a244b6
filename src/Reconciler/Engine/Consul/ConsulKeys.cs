namespace Reconciler.Consul;

/// <summary>
/// The Consul key layout (docs/state.md). The reconciler owns exactly these keys and deletes only keys it
/// names one by one; it never deletes a prefix.
/// </summary>
public static class ConsulKeys
{
    // Reconciler-internal state under the configured prefix.
    public static string Environment(string prefix, string env) => $"{Trim(prefix)}/{env}";
    public static string Version(string prefix, string env) => $"{Environment(prefix, env)}/version";
    public static string ServicesTree(string prefix, string env) => $"{Environment(prefix, env)}/services/";
    public static string Service(string prefix, string env, string service) => $"{Environment(prefix, env)}/services/{service}";
    public static string HostsTree(string prefix, string env) => $"{Environment(prefix, env)}/hosts/";
    public static string Host(string prefix, string env, string host) => $"{Environment(prefix, env)}/hosts/{host}";
    public static string TogglesTree(string prefix, string env) => $"{Environment(prefix, env)}/toggles/";
    public static string Toggle(string prefix, string env, string name) => $"{Environment(prefix, env)}/toggles/{name}";
    public static string Lock(string prefix, string env) => $"{Environment(prefix, env)}/lock";
    public static string Leader(string prefix, string env) => $"{Environment(prefix, env)}/leader";
    public static string Freeze(string prefix, string env) => $"{Environment(prefix, env)}/freeze";
    public static string HistoryTree(string prefix, string env) => $"{Environment(prefix, env)}/history/";
    public static string History(string prefix, string env, string id) => $"{Environment(prefix, env)}/history/{id}";
    public static string QuarantineTree(string prefix, string env) => $"{Environment(prefix, env)}/quarantine/";
    public static string Quarantine(string prefix, string env, string commit) => $"{Environment(prefix, env)}/quarantine/{commit}";
    public static string JournalTree(string prefix, string env) => $"{Environment(prefix, env)}/journal/";
    public static string JournalApply(string prefix, string env, string applyId) => $"{Environment(prefix, env)}/journal/{applyId}/";

    // App-facing keys (no prefix: consul-template reads them as written), published by the consul-kv driver.
    public static string AppConfig(string env, string service, string key) => $"config/{env}/{service}/{key}";
    public static string AppConfigTree(string env, string service) => $"config/{env}/{service}/";
    public static string AppToggle(string env, string name) => $"toggles/{env}/{name}";

    public static string Trim(string prefix) => prefix.Trim('/');

    // ---- Consul's strict key charset ---------------------------------------------------------------------

    /// <summary>Keys this product sends use only letters, digits, '/', '.', '_' and '-': characters every Consul version
    /// accepts in a key and in a URL path unescaped (some versions, e.g. 1.21.5, answer 500 to a key with '+').</summary>
    public static bool IsStrictKey(string key) =>
        key.Length > 0 && key.All(c => c is (>= 'a' and <= 'z') or (>= 'A' and <= 'Z') or (>= '0' and <= '9') or '/' or '.' or '_' or '-');

    public static void CheckStrictKey(string key)
    {
        if (!IsStrictKey(key))
            throw new ConsulException(ConsulErrorKind.BadRequest,
                $"refusing to send Consul key '{key}': keys must use only letters, digits, '/', '.', '_' and '-' (encode other characters with ConsulKeys.EncodeSegment).");
    }

    /// <summary>One key segment in the strict charset, reversibly: '_' becomes "__" and any other character outside
    /// [A-Za-z0-9.-] becomes '_' and its two hex digits (so release id "1.2.0+b7" is "1.2.0_2Bb7").</summary>
    public static string EncodeSegment(string text)
    {
        var b = new System.Text.StringBuilder(text.Length);
        foreach (var c in text)
        {
            if (c is (>= 'a' and <= 'z') or (>= 'A' and <= 'Z') or (>= '0' and <= '9') or '.' or '-') b.Append(c);
            else if (c == '_') b.Append("__");
            else if (c <= 0xFF) b.Append('_').Append(((int)c).ToString("X2", System.Globalization.CultureInfo.InvariantCulture));
            else throw new ArgumentException($"'{text}' has a character that cannot be a Consul key segment: U+{(int)c:X4}", nameof(text));
        }
        return b.ToString();
    }

    /// <summary>The inverse of <see cref="EncodeSegment"/>; null when <paramref name="segment"/> is not an encoding.</summary>
    public static string? DecodeSegment(string segment)
    {
        var b = new System.Text.StringBuilder(segment.Length);
        for (var i = 0; i < segment.Length; i++)
        {
            if (segment[i] != '_') { b.Append(segment[i]); continue; }
            if (i + 1 < segment.Length && segment[i + 1] == '_') { b.Append('_'); i++; continue; }
            if (i + 2 >= segment.Length || !byte.TryParse(segment.AsSpan(i + 1, 2), System.Globalization.NumberStyles.AllowHexSpecifier, null, out var code))
                return null;
            b.Append((char)code);
            i += 2;
        }
        return b.ToString();
    }
}
