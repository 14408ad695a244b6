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
}
