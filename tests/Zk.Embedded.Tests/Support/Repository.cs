namespace Zk.Embedded.Tests.Support;

/// <summary>
/// The checkout the tests run from, found above the test binaries. Not from [CallerFilePath]: a CI build
/// (ContinuousIntegrationBuild) maps source paths to <c>/_/</c>, so compiled-in paths name no real folder there.
/// </summary>
internal static class Repository
{
    public static string Root { get; } = Find();

    private static string Find()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Embedded.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"no Embedded.sln above {AppContext.BaseDirectory}: the tests expect to run from a build inside the checkout");
    }
}
