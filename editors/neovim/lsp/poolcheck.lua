-- Picked up by vim.lsp.enable("poolcheck") when editors/neovim is on the
-- runtimepath (Neovim >= 0.11 reads lsp/<name>.lua files).
return require("poolcheck").config()
