-- poolcheck for Neovim >= 0.11: `require("poolcheck").setup()` registers the
-- language server with vim.lsp.config and enables it.
local M = {}

-- Every kind of file poolcheck reads. Findings are published for the whole
-- workspace; attaching to these filetypes gives hover and code actions there.
M.filetypes = {
  "python",
  "dosini", -- pgbouncer.ini, uwsgi.ini
  "conf", -- postgresql.conf
  "toml", -- poolcheck.toml, pyproject.toml
  "yaml", -- docker-compose.yml, Kubernetes manifests, kustomization.yaml
  "dockerfile",
  "sh",
  "procfile",
  "requirements",
}

-- The nearest of these upward from a file is the project root.
M.root_markers = { "poolcheck.toml", "pyproject.toml", "requirements.txt", "Procfile", ".git" }

-- Filetypes Neovim does not detect by itself.
local function add_filetypes()
  vim.filetype.add({
    filename = { Procfile = "procfile" },
    pattern = {
      ["Procfile%..*"] = "procfile",
      [".*/postgresql[^/]*%.conf"] = "conf",
      [".*/pgbouncer[^/]*%.ini"] = "dosini",
    },
  })
end

--- The configuration passed to vim.lsp.config("poolcheck", ...).
--- @param opts? { path?: string, settings?: table, config?: table }
function M.config(opts)
  opts = opts or {}
  -- An empty Lua table would be sent as a JSON array.
  local settings = opts.settings or vim.empty_dict()
  return vim.tbl_deep_extend("force", {
    cmd = { opts.path or "poolcheck", "lsp" },
    filetypes = M.filetypes,
    root_markers = M.root_markers,
    -- select / ignore / severity / fail-on, as on the command line.
    init_options = settings,
    settings = { poolcheck = settings },
  }, opts.config or {})
end

--- Registers and enables the server.
--- @param opts? { path?: string, settings?: table, config?: table }
function M.setup(opts)
  add_filetypes()
  vim.lsp.config("poolcheck", M.config(opts))
  vim.lsp.enable("poolcheck")
end

return M
