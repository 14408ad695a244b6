using System.Text;
using Reconciler.Drivers;
using Reconciler.Testing;
using Xunit;

namespace Reconciler.Engine.Tests.Drivers;

public sealed class ReleaseFilesTests
{
    private static readonly Dictionary<string, string> Config = new()
    {
        ["ZETA"] = "last",
        ["API_URL"] = "https://example.com/?a=1&b=\"2\"",
        ["GREETING"] = "héllo wörld",
        ["MULTI"] = "line1\nline2",
        ["QUOTE"] = "it's $(not run) `nor this`",
        ["feature.flag-x"] = "on",
        ["_private"] = "",
    };

    [Fact]
    public void Config_json_is_sorted_and_stable() =>
        Golden.Match(Encoding.UTF8.GetString(ReleaseFiles.ConfigJson(Config)), "config.json.txt");

    [Fact]
    public void Dot_env_quotes_every_value_and_lists_keys_that_are_not_shell_names() =>
        Golden.Match(Encoding.UTF8.GetString(ReleaseFiles.DotEnv(Config)), "dotenv.txt");

    [Theory]
    [InlineData("1.0.0-0123456789", true)]
    [InlineData("1.0.0-rc.1+build.5-0123456789", true)]
    [InlineData("../x", false)]
    [InlineData("1..0", false)]
    [InlineData(".hidden", false)]
    [InlineData("-rf", false)]
    [InlineData("a b", false)]
    [InlineData("a/b", false)]
    public void Release_ids(string id, bool valid) => Assert.Equal(valid, ReleaseLayout.IsValidReleaseId(id));

    [Theory]
    [InlineData("/srv/api", true)]
    [InlineData("/opt/my_app/v1.2", true)]
    [InlineData("srv/api", false)]
    [InlineData("/srv/../etc", false)]
    [InlineData("/srv/./api", false)]
    [InlineData("/srv/api/", false)]
    [InlineData("/srv//api", false)]
    [InlineData("/srv/a b", false)]
    [InlineData("/srv/$(x)", false)]
    [InlineData("/", false)]
    public void Deploy_paths(string path, bool valid) => Assert.Equal(valid, ReleaseLayout.IsValidDeployPath(path));
}
