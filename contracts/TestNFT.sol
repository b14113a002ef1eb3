// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ERC721} from "@openzeppelin/contracts/token/ERC721/ERC721.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

/// @title An ERC-721 collection for NFT-gated communities on the dev chain.
/// @notice Token ids are sequential from 1, so tests can predict them; tokenURI is base + id.
contract TestNFT is ERC721, Ownable {
    string private _base;
    uint256 private _nextId = 1;

    constructor(string memory name_, string memory symbol_, string memory baseURI_)
        ERC721(name_, symbol_)
        Ownable(msg.sender)
    {
        _base = baseURI_;
    }

    /// @notice Mints the next id to `to` and returns it. _mint, not _safeMint: tests mint to
    ///         plain EOAs and contract wallets alike, and a wallet without onERC721Received must
    ///         still be able to hold a gate token.
    function mint(address to) external onlyOwner returns (uint256 tokenId) {
        tokenId = _nextId++;
        _mint(to, tokenId);
    }

    /// @notice How many ids have been minted so far.
    function totalMinted() external view returns (uint256) {
        return _nextId - 1;
    }

    function _baseURI() internal view override returns (string memory) {
        return _base;
    }
}
